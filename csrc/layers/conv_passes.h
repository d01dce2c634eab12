// layers/conv_passes.h: the one driver of the convolution GEMMs, for both devices.
//
// For one image, per group g (weights W_g: Mg column-side rows, Kg = image channels/group * kh * kw
// columns), the three passes of base_conv_layer.h:
//   kColumns     columns  = W_g * im2col(image)
//   kImage       image    = col2im(W_g^T * columns)
//   kWeightGrad  dW_g    += columns * im2col(image)^T
// A 1x1, stride-1, unpadded kernel needs no im2col: the image is its own column matrix. Otherwise
// the column-side rows are streamed in bands of `rows` output rows, so that the column buffer stays
// Backend::kBandFloats in size (cache-sized on the CPU, larger on the GPU).
//
// A Backend supplies the device's primitives: gemm (row-major, explicit leading dimensions, as
// blas::gemm_ld), set, im2col and col2im of a band (col2im adds into the image), the column buffer,
// and the weights' data on that device.
#pragma once

#include <algorithm>

#include "layers/base_conv_layer.h"

namespace pycolorize {

template <class Backend>
void BaseConvolutionLayer::gemm_pass(Backend& be, Pass pass, const float* image, const float* columns, float* out) {
  const int Mg = col_channels_ / group_;
  const int Kg = geom_.channels * kh_ * kw_;
  const int out_w = geom_.out_w, P = geom_.out_h * out_w;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  const int rows = band_rows(Backend::kBandFloats);
  const int ldw = Kg;  // the weights' row stride
  const float* w = pass == Pass::kWeightGrad ? nullptr : be.weights(*blobs_[0]);
  float* buf = is_1x1_ ? nullptr : be.buffer(static_cast<int64_t>(Kg) * rows * out_w);
  for (int g = 0; g < group_; ++g) {
    const float* wg = w ? w + static_cast<int64_t>(g) * Mg * ldw : nullptr;
    const float* img = image ? image + g * im_g : nullptr;
    const float* col = columns ? columns + static_cast<int64_t>(g) * Mg * P : nullptr;
    if (pass == Pass::kColumns) {
      float* col_out = out + static_cast<int64_t>(g) * Mg * P;
      if (is_1x1_) {
        be.gemm(false, false, Mg, P, Kg, wg, ldw, img, P, 0.f, col_out, P);
        continue;
      }
      for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
        const int oh1 = std::min(geom_.out_h, oh0 + rows), Pb = (oh1 - oh0) * out_w;
        be.im2col(img, geom_, oh0, oh1, buf);
        be.gemm(false, false, Mg, Pb, Kg, wg, ldw, buf, Pb, 0.f, col_out + oh0 * out_w, P);
      }
    } else if (pass == Pass::kImage) {
      float* img_out = out + g * im_g;
      if (is_1x1_) {
        be.gemm(true, false, Kg, P, Mg, wg, ldw, col, P, 0.f, img_out, P);
        continue;
      }
      be.set(im_g, 0.f, img_out);
      for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
        const int oh1 = std::min(geom_.out_h, oh0 + rows), Pb = (oh1 - oh0) * out_w;
        be.gemm(true, false, Kg, Pb, Mg, wg, ldw, col + oh0 * out_w, P, 0.f, buf, Pb);
        be.col2im(buf, geom_, oh0, oh1, img_out);
      }
    } else {
      float* dwg = out + static_cast<int64_t>(g) * Mg * ldw;
      if (is_1x1_) {
        be.gemm(false, true, Mg, Kg, P, col, P, img, P, 1.f, dwg, ldw);
        continue;
      }
      for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
        const int oh1 = std::min(geom_.out_h, oh0 + rows), Pb = (oh1 - oh0) * out_w;
        be.im2col(img, geom_, oh0, oh1, buf);
        be.gemm(false, true, Mg, Kg, Pb, col + oh0 * out_w, P, buf, Pb, 1.f, dwg, ldw);
      }
    }
  }
}

}  // namespace pycolorize
