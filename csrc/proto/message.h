// proto/message.h: a parsed Caffe text-format message (NetParameter, LayerParameter, ...).
//
// The parser (text_format.h) builds an untyped tree; schema.h validates it against the field table
// and records each message's type, after which the typed getters below return the value written in
// the file or the schema's default. Every field keeps its file, line and column for error messages.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace pycolorize {
namespace proto {

struct Location {
  std::string file;
  int line = 0;
  int col = 0;
  std::string str() const;  // "file:line:col"
};

class Message;

struct Field {
  std::string name;
  Location loc;
  // Exactly one of the two: a scalar token or a nested message.
  std::string text;   // the token as written (unquoted and unescaped for strings)
  bool quoted = false;
  std::shared_ptr<Message> msg;
  double number = 0;  // filled by validation for numeric and bool fields
};

class Message {
 public:
  std::string type;  // schema message name, set by validation
  Location loc;
  std::vector<Field> fields;  // in file order

  bool has(const std::string& name) const;
  int count(const std::string& name) const;

  // Scalars: the last value written (repeated: the idx-th), else the schema default.
  double get_number(const std::string& name) const;
  int get_int(const std::string& name) const { return static_cast<int>(get_number(name)); }
  float get_float(const std::string& name) const { return static_cast<float>(get_number(name)); }
  bool get_bool(const std::string& name) const { return get_number(name) != 0; }
  std::string get_string(const std::string& name) const;  // strings and enum names

  std::vector<double> numbers(const std::string& name) const;
  std::vector<int> ints(const std::string& name) const;
  std::vector<float> floats(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;

  // Nested messages: the one written, or an empty message of the field's type (all defaults).
  const Message& msg(const std::string& name) const;
  std::vector<const Message*> msgs(const std::string& name) const;
  const Field* find(const std::string& name) const;  // last occurrence, or nullptr

  // Building messages in code (the net's split layers, upgraded legacy inputs).
  void add(const std::string& name, const std::string& text, bool quoted = false);
  void add_number(const std::string& name, double value);
  Message& add_msg(const std::string& name, const std::string& type);
  void set(const std::string& name, const std::string& text, bool quoted = false);  // replace all
  void remove(const std::string& name);
};

}  // namespace proto
}  // namespace pycolorize
