// tests/fuzz/prototxt_fuzzer.cpp: libFuzzer harness for the prototxt text parser, the schema
// validation and net construction (TEST phase; nothing is run forward).
//
// Clean outcome: the text builds a net, or pycolorize::Error is thrown with a message that is valid
// UTF-8 (the bindings hand it to Python as str). A crash: any other exception (std::bad_alloc,
// std::out_of_range, ...), a sanitizer report, an invalid-UTF-8 message, a timeout or running past
// libFuzzer's memory limit.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common.h"
#include "net.h"

namespace {

// Strict UTF-8, as Python's str decoding is: no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    const size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    unsigned cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Blobs over 1 MiB are refused like blobs larger than the machine's memory: "num_output: 2000000"
  // is then an Error here too, not a trip over libFuzzer's -rss_limit_mb, and filling VGG-sized
  // weights does not slow every execution down (the parser and schema are what is under test).
  pycolorize::Runtime::set_max_alloc_bytes(size_t(1) << 20);
  pycolorize::Runtime::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    pycolorize::Net::from_text(text, "fuzz.prototxt", pycolorize::Phase::TEST);
  } catch (const pycolorize::Error& e) {
    if (!valid_utf8(e.what())) {
      std::fprintf(stderr, "error message is not valid UTF-8: %s\n", e.what());
      __builtin_trap();
    }
  }
  return 0;
}
