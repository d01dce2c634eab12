// proto/message.cpp: Message's getters and builders; defaults come from the schema (schema.h).
#include "proto/message.h"

#include "common.h"
#include "proto/schema.h"

namespace pycolorize {
namespace proto {

std::string Location::str() const { return pycolorize::str(file, ":", line, ":", col); }

namespace {
const FieldSpec& spec_of(const Message& m, const std::string& name) {
  PYC_CHECK(!m.type.empty(), "internal: message not validated (field ", name, ")");
  const FieldSpec* fs = message_spec(m.type).field(name);
  PYC_CHECK(fs, "internal: ", m.type, " has no field ", name);
  return *fs;
}
}  // namespace

bool Message::has(const std::string& name) const { return find(name) != nullptr; }

int Message::count(const std::string& name) const {
  int n = 0;
  for (const auto& f : fields) n += f.name == name;
  return n;
}

const Field* Message::find(const std::string& name) const {
  const Field* r = nullptr;
  for (const auto& f : fields)
    if (f.name == name) r = &f;
  return r;
}

double Message::get_number(const std::string& name) const {
  const FieldSpec& fs = spec_of(*this, name);
  if (const Field* f = find(name)) return f->number;
  PYC_CHECK(!fs.default_value.empty(), loc.str(), ": ", type, " needs a value for '", name, "'");
  return default_number(fs, type);
}

std::string Message::get_string(const std::string& name) const {
  const FieldSpec& fs = spec_of(*this, name);
  if (const Field* f = find(name)) return f->text;
  return fs.default_value;
}

std::vector<double> Message::numbers(const std::string& name) const {
  std::vector<double> v;
  for (const auto& f : fields)
    if (f.name == name) v.push_back(f.number);
  return v;
}
std::vector<int> Message::ints(const std::string& name) const {
  std::vector<int> v;
  for (double d : numbers(name)) v.push_back(static_cast<int>(d));
  return v;
}
std::vector<float> Message::floats(const std::string& name) const {
  std::vector<float> v;
  for (double d : numbers(name)) v.push_back(static_cast<float>(d));
  return v;
}
std::vector<std::string> Message::strings(const std::string& name) const {
  std::vector<std::string> v;
  for (const auto& f : fields)
    if (f.name == name) v.push_back(f.text);
  return v;
}

const Message& Message::msg(const std::string& name) const {
  if (const Field* f = find(name)) return *f->msg;
  return empty_message(spec_of(*this, name).type_name);
}

std::vector<const Message*> Message::msgs(const std::string& name) const {
  std::vector<const Message*> v;
  for (const auto& f : fields)
    if (f.name == name) v.push_back(f.msg.get());
  return v;
}

void Message::add(const std::string& name, const std::string& text, bool quoted) {
  Field f;
  f.name = name;
  f.text = text;
  f.quoted = quoted;
  f.loc = loc;
  fields.push_back(std::move(f));
}

void Message::add_number(const std::string& name, double value) {
  add(name, str(value));
  fields.back().number = value;
}

Message& Message::add_msg(const std::string& name, const std::string& t) {
  Field f;
  f.name = name;
  f.loc = loc;
  f.msg = std::make_shared<Message>();
  f.msg->type = t;
  f.msg->loc = loc;
  fields.push_back(f);
  return *fields.back().msg;
}

void Message::set(const std::string& name, const std::string& text, bool quoted) {
  remove(name);
  add(name, text, quoted);
}

void Message::remove(const std::string& name) {
  std::vector<Field> kept;
  for (auto& f : fields)
    if (f.name != name) kept.push_back(std::move(f));
  fields.swap(kept);
}

}  // namespace proto
}  // namespace pycolorize
