// filler.h: parameter initialisation from a FillerParameter (Caffe's fillers, same formulas):
// constant, uniform [min, max), gaussian (optionally sparse), xavier, msra and bilinear.
#pragma once

#include "blob.h"
#include "proto/message.h"

namespace pycolorize {

void fill(Blob& blob, const proto::Message& filler_param);
const char* const* filler_types();  // null-terminated list, for error messages

}  // namespace pycolorize
