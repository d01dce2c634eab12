// proto/text_format.h: parser for Caffe's (protobuf's) text format.
//
// Accepts comments (#), `key: value`, `key { ... }`, `key: { ... }`, `key < ... >`, optional
// commas/semicolons between fields, several fields on one line, repeated fields, list values
// `key: [1, 2]`, enums (bare identifiers), numbers (inf/nan too) and single- or double-quoted strings
// with C escapes. Errors name file, line and column.
//
// Limits, so that text from strangers is refused with an Error rather than overflowing the stack
// or memory: messages nest at most kMaxNesting deep, and a token (a name, a number, or a string
// after adjacent strings are joined) is at most kMaxTokenBytes long. Caffe's nets nest 3 deep and
// their longest strings are file paths.
#pragma once

#include <string>

#include "proto/message.h"

namespace pycolorize {
namespace proto {

constexpr int kMaxNesting = 100;
constexpr size_t kMaxTokenBytes = size_t(1) << 20;  // 1 MiB

// Parses `text` (named `filename` in errors) into an untyped message tree.
Message parse_text(const std::string& text, const std::string& filename);
std::string read_file(const std::string& path);

}  // namespace proto
}  // namespace pycolorize
