// util/window.h: the spatial window of Convolution and Pooling (kernel, stride, pad), read from
// either layer's parameters by one set of rules.
#pragma once

#include <string>

#include "proto/message.h"

namespace pycolorize {

struct WindowPair {
  int h = 0, w = 0;
};

// `field` (one value for both axes; Convolution's repeated fields also take (h, w)) or its
// field_h/field_w twins: never both, and never one twin alone. Caffe itself reads a lone pad_h as
// pad_w = 0 (and Pooling ignores a lone pad_w or stride_w); here that is an error naming the layer.
// Neither given: `deflt` for both, or, with deflt < 0, an error (the field is required).
WindowPair read_window_pair(const proto::Message& p, const std::string& field, int deflt, const std::string& where);

}  // namespace pycolorize
