// proto/schema.h: the prototxt schema, written once: every message, field, type and default that
// pycolorize understands (a subset of Caffe's caffe.proto with the same names and defaults).
// prototxt/README.md is generated from this table (tools/gen_prototxt_doc.py; a test keeps it current).
#pragma once

#include <string>
#include <vector>

#include "proto/message.h"

namespace pycolorize {
namespace proto {

enum class FieldType { INT, UINT, FLOAT, BOOL, STRING, ENUM, MESSAGE };

struct FieldSpec {
  std::string name;
  FieldType type;
  bool repeated;
  std::string type_name;      // enum or message type name
  std::string default_value;  // as text; empty = none (optional field without default)
  std::string doc;
};

struct MessageSpec {
  std::string name;
  std::string doc;
  std::vector<FieldSpec> fields;
  const FieldSpec* field(const std::string& name) const;
  std::string field_names() const;  // "a, b, c" for error messages
};

struct EnumSpec {
  std::string name;
  std::vector<std::string> values;
};

const std::vector<MessageSpec>& all_messages();
const std::vector<EnumSpec>& all_enums();
const MessageSpec& message_spec(const std::string& name);
const EnumSpec& enum_spec(const std::string& name);
std::string type_name(const FieldSpec& f);  // "float", "enum PoolMethod", "FillerParameter", ...

// Checks `m` (and its sub-messages) against message type `type`: unknown fields (the error lists the
// known ones), wrong value kinds, repeated non-repeated fields. Sets m.type and parses numbers.
void validate(Message& m, const std::string& type);

// Defaults, for Message's getters: a field's default value as a number (enums by index), and an
// empty (all-defaults) message of a type, shared and immutable.
double default_number(const FieldSpec& fs, const std::string& msg_type);
const Message& empty_message(const std::string& type);

}  // namespace proto
}  // namespace pycolorize
