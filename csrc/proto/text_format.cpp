// proto/text_format.cpp: a small recursive-descent parser for protobuf text format.
#include "proto/text_format.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common.h"

namespace pycolorize {
namespace proto {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PYC_CHECK(in.good(), path, ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// One byte as it can be quoted in a message: printable ASCII as is, anything else as \xNN (a lone
// byte of a multi-byte character is not valid UTF-8, and control bytes are unreadable).
std::string printable(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string(1, c);
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", u);
  return buf;
}

enum class Tok { END, IDENT, NUMBER, STRING, SYMBOL };

struct Token {
  Tok kind = Tok::END;
  std::string text;
  Location loc;
};

class Lexer {
 public:
  Lexer(const std::string& text, const std::string& file) : s_(text), file_(file) { advance(); }
  const Token& peek() const { return tok_; }
  Token next() {
    Token t = tok_;
    advance();
    return t;
  }
  [[noreturn]] void fail(const Location& loc, const std::string& msg) const {
    throw Error(str(loc.str(), ": ", msg));
  }
  void check_length(const Location& loc, size_t n) const {
    if (n > kMaxTokenBytes)
      fail(loc, str("token longer than the limit of ", kMaxTokenBytes, " bytes"));
  }

 private:
  char at(size_t i) const { return i < s_.size() ? s_[i] : '\0'; }
  void bump() {
    if (s_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void skip_space() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') bump();
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        bump();
      } else {
        break;
      }
    }
  }
  void advance() {
    skip_space();
    tok_ = Token();
    tok_.loc = {file_, line_, col_};
    if (pos_ >= s_.size()) return;
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = pos_;
      while (std::isalnum(static_cast<unsigned char>(at(pos_))) || at(pos_) == '_' || at(pos_) == '.') bump();
      check_length(tok_.loc, pos_ - b);
      tok_.kind = Tok::IDENT;
      tok_.text = s_.substr(b, pos_ - b);
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' ||
               (c == '.' && std::isdigit(static_cast<unsigned char>(at(pos_ + 1))))) {
      size_t b = pos_;
      bump();
      while (std::isalnum(static_cast<unsigned char>(at(pos_))) || at(pos_) == '.' ||
             ((at(pos_) == '-' || at(pos_) == '+') && (at(pos_ - 1) == 'e' || at(pos_ - 1) == 'E')))
        bump();
      check_length(tok_.loc, pos_ - b);
      tok_.kind = Tok::NUMBER;
      tok_.text = s_.substr(b, pos_ - b);
    } else if (c == '"' || c == '\'') {
      tok_.kind = Tok::STRING;
      bump();
      std::string out;
      while (true) {
        if (pos_ >= s_.size() || s_[pos_] == '\n') fail(tok_.loc, "unterminated string");
        check_length(tok_.loc, out.size());
        char d = s_[pos_];
        if (d == c) {
          bump();
          break;
        }
        if (d == '\\') {
          bump();
          char e = at(pos_);
          switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            default: fail({file_, line_, col_}, str("unknown escape '\\", printable(e), "' in string"));
          }
          bump();
          continue;
        }
        out += d;
        bump();
      }
      // As protobuf's text format: a string field holds UTF-8 (names reach Python as str).
      if (utf8_escaped(out) != out) fail(tok_.loc, str("string \"", clipped(utf8_escaped(out)), "\" is not valid UTF-8"));
      tok_.text = out;
    } else if (std::string("{}[]<>:,;").find(c) != std::string::npos) {
      tok_.kind = Tok::SYMBOL;
      tok_.text = std::string(1, c);
      bump();
    } else {
      fail(tok_.loc, str("unexpected character '", printable(c), "'"));
    }
  }

  const std::string& s_;
  std::string file_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  Token tok_;
};

bool is_symbol(const Token& t, const char* s) { return t.kind == Tok::SYMBOL && t.text == s; }

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::END: return "end of file";
    case Tok::STRING: return str("string \"", clipped(t.text), "\"");
    default: return str("'", clipped(t.text), "'");
  }
}

class Parser {
 public:
  Parser(const std::string& text, const std::string& file) : lex_(text, file) {}

  Message parse() {
    Message m;
    m.loc = lex_.peek().loc;
    parse_fields(m, nullptr);
    return m;
  }

 private:
  // Fields until `close` (a closing symbol) or end of file when close is null.
  void parse_fields(Message& m, const char* close) {
    while (true) {
      const Token& t = lex_.peek();
      if (t.kind == Tok::END) {
        if (close) lex_.fail(t.loc, str("expected '", close, "' before end of file"));
        return;
      }
      if (close && is_symbol(t, close)) {
        lex_.next();
        return;
      }
      if (t.kind != Tok::IDENT) lex_.fail(t.loc, str("expected a field name, got ", describe(t)));
      Token name = lex_.next();
      parse_value(m, name);
      if (is_symbol(lex_.peek(), ",") || is_symbol(lex_.peek(), ";")) lex_.next();
    }
  }

  void parse_message_body(Message& m, const Token& name, const Token& open) {
    // Recursion depth is nesting depth: without a limit, deep text overflows the stack.
    if (depth_ >= kMaxNesting)
      lex_.fail(open.loc, str("messages nested more than ", kMaxNesting, " deep"));
    auto sub = std::make_shared<Message>();
    sub->loc = name.loc;
    ++depth_;
    parse_fields(*sub, open.text == "{" ? "}" : ">");
    --depth_;
    Field f;
    f.name = name.text;
    f.loc = name.loc;
    f.msg = sub;
    m.fields.push_back(std::move(f));
  }

  void parse_value(Message& m, const Token& name) {
    const Token& t = lex_.peek();
    if (is_symbol(t, "{") || is_symbol(t, "<")) {
      Token open = lex_.next();
      parse_message_body(m, name, open);
      return;
    }
    if (!is_symbol(t, ":"))
      lex_.fail(t.loc, str("expected ':' or '{' after field name '", name.text, "', got ", describe(t)));
    lex_.next();
    const Token& v = lex_.peek();
    if (is_symbol(v, "{") || is_symbol(v, "<")) {
      Token open = lex_.next();
      parse_message_body(m, name, open);
    } else if (is_symbol(v, "[")) {
      lex_.next();
      if (is_symbol(lex_.peek(), "]")) {
        lex_.next();
        return;
      }
      while (true) {
        if (is_symbol(lex_.peek(), "{") || is_symbol(lex_.peek(), "<")) {
          Token open = lex_.next();
          parse_message_body(m, name, open);
        } else {
          m.fields.push_back(parse_scalar(name));
        }
        Token sep = lex_.next();
        if (is_symbol(sep, "]")) break;
        if (!is_symbol(sep, ",")) lex_.fail(sep.loc, str("expected ',' or ']' in list, got ", describe(sep)));
      }
    } else {
      m.fields.push_back(parse_scalar(name));
    }
  }

  Field parse_scalar(const Token& name) {
    Token v = lex_.next();
    Field f;
    f.name = name.text;
    f.loc = v.loc;
    if (v.kind == Tok::STRING) {
      f.text = v.text;
      f.quoted = true;
      while (lex_.peek().kind == Tok::STRING) {  // "a" "b" concatenates
        f.text += lex_.next().text;
        lex_.check_length(v.loc, f.text.size());
      }
    } else if (v.kind == Tok::IDENT || v.kind == Tok::NUMBER) {
      f.text = v.text;
    } else {
      lex_.fail(v.loc, str("expected a value for field '", name.text, "', got ", describe(v)));
    }
    return f;
  }

  Lexer lex_;
  int depth_ = 0;
};

}  // namespace

Message parse_text(const std::string& text, const std::string& filename) {
  return Parser(text, filename).parse();
}

}  // namespace proto
}  // namespace pycolorize
