// util/window.cpp
#include "util/window.h"

#include <vector>

#include "common.h"

namespace pycolorize {

WindowPair read_window_pair(const proto::Message& p, const std::string& field, int deflt, const std::string& where) {
  // kernel_size's twins are kernel_h/kernel_w; stride's and pad's are stride_h/_w and pad_h/_w
  const std::string stem = field == "kernel_size" ? "kernel" : field;
  const std::string fh = stem + "_h", fw = stem + "_w";
  const std::vector<int> v = p.ints(field);
  const bool has_h = p.has(fh), has_w = p.has(fw);
  PYC_CHECK(!((has_h || has_w) && !v.empty()), where, ": give ", field, " or ", fh, "/", fw, ", not both");
  if (has_h || has_w) {
    PYC_CHECK(has_h && has_w, where, ": give both ", fh, " and ", fw, " (", has_h ? fw : fh, " is missing)");
    return {p.get_int(fh), p.get_int(fw)};
  }
  if (v.empty()) {
    PYC_CHECK(deflt >= 0, where, ": needs ", field, " (or ", fh, " and ", fw, ")");
    return {deflt, deflt};
  }
  PYC_CHECK(v.size() <= 2, where, ": ", field, " takes 1 or 2 values (h, w), got ", v.size());
  return {v[0], v.back()};
}

}  // namespace pycolorize
