// layers/conv/conv_passes.h: the one driver of the convolution GEMMs, for both devices.
//
// For one image, per group g (weights W_g: Mg column-side rows, Kg = image channels/group * kh * kw
// columns), the three passes of base_conv_layer.h:
//   kColumns     columns  = W_g * im2col(image)
//   kImage       image    = col2im(W_g^T * columns)
//   kWeightGrad  dW_g    += columns * im2col(image)^T
// A 1x1, stride-1, unpadded kernel needs no im2col: the image is its own column matrix. Otherwise
// the column-side rows are streamed in bands of `rows` output rows, so that the column buffer stays
// Backend::band_floats() in size (cache-sized on the CPU, larger on the GPU). Images with few output
// positions go several to a GEMM (batched_pass): their columns side by side, so N = images * P.
//
// A Backend supplies the device's primitives: gemm (row-major, explicit leading dimensions, as
// blas::gemm_ld), set, copy2d (rows of a strided matrix), im2col and col2im of a band with the
// column rows ld apart (col2im adds into the image), the column buffer, and the weights' data on
// that device.
#pragma once

#include <algorithm>

#include "layers/base_conv_layer.h"

namespace pycolorize {

template <class Backend>
void BaseConvolutionLayer::gemm_pass(Backend& be, Pass pass, const float* image, const float* columns, float* out,
                                     int images) {
  if (images > 1) {
    batched_pass(be, pass, image, columns, out, images);
    return;
  }
  const int Mg = col_channels_ / group_;
  const int Kg = geom_.channels * kh_ * kw_;
  const int out_w = geom_.out_w, P = geom_.out_h * out_w;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  const int rows = band_rows(Backend::band_floats(), Kg);
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
        be.im2col(img, geom_, oh0, oh1, buf, Pb);
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
        be.col2im(buf, geom_, oh0, oh1, img_out, Pb);
      }
    } else {
      float* dwg = out + static_cast<int64_t>(g) * Mg * ldw;
      if (is_1x1_) {
        be.gemm(false, true, Mg, Kg, P, col, P, img, P, 1.f, dwg, ldw);
        continue;
      }
      for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
        const int oh1 = std::min(geom_.out_h, oh0 + rows), Pb = (oh1 - oh0) * out_w;
        be.im2col(img, geom_, oh0, oh1, buf, Pb);
        be.gemm(false, true, Mg, Kg, Pb, col + oh0 * out_w, P, buf, Pb, 1.f, dwg, ldw);
      }
    }
  }
}

// Group 1, whole images (images_per_gemm): the columns of image i are columns [i*P, (i+1)*P) of
// one K x images*P matrix, and the column side is gathered into (or scattered from) an M x
// images*P matrix beside it, as the column-side blob holds each image's M x P apart.
template <class Backend>
void BaseConvolutionLayer::batched_pass(Backend& be, Pass pass, const float* image, const float* columns, float* out,
                                        int images) {
  const int M = col_channels_, K = geom_.channels * kh_ * kw_;
  const int P = geom_.out_h * geom_.out_w, NP = images * P;
  const int64_t im_dim = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width, col_dim = static_cast<int64_t>(M) * P;
  float* cols = be.buffer((static_cast<int64_t>(K) + M) * NP);
  float* side = cols + static_cast<int64_t>(K) * NP;
  if (pass == Pass::kColumns) {
    for (int i = 0; i < images; ++i) be.im2col(image + i * im_dim, geom_, 0, geom_.out_h, cols + i * P, NP);
    be.gemm(false, false, M, NP, K, be.weights(*blobs_[0]), K, cols, NP, 0.f, side, NP);
    for (int i = 0; i < images; ++i) be.copy2d(M, P, side + i * P, NP, out + i * col_dim, P);
    return;
  }
  for (int i = 0; i < images; ++i) be.copy2d(M, P, columns + i * col_dim, P, side + i * P, NP);
  if (pass == Pass::kImage) {
    be.gemm(true, false, K, NP, M, be.weights(*blobs_[0]), K, side, NP, 0.f, cols, NP);
    for (int i = 0; i < images; ++i) {
      be.set(im_dim, 0.f, out + i * im_dim);
      be.col2im(cols + i * P, geom_, 0, geom_.out_h, out + i * im_dim, NP);
    }
  } else {
    for (int i = 0; i < images; ++i) be.im2col(image + i * im_dim, geom_, 0, geom_.out_h, cols + i * P, NP);
    be.gemm(false, true, M, K, NP, side, NP, cols, NP, 1.f, out, K);
  }
}

}  // namespace pycolorize
