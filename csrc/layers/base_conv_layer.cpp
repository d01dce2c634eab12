// layers/base_conv_layer.cpp
#include "layers/base_conv_layer.h"

#include <algorithm>

#include "filler.h"
#include "util/blas.h"

namespace pycolorize {

namespace {
// Reads a (h, w) pair from a repeated field (one value = both) or from its _h/_w twins.
void read_pair(const proto::Message& p, const std::string& field, int deflt, const std::string& where, int& h, int& w) {
  const std::vector<int> v = p.ints(field);
  const bool has_hw = p.has(field + "_h") || p.has(field + "_w");
  PYC_CHECK(!(has_hw && !v.empty()), where, ": give ", field, " or ", field, "_h/", field, "_w, not both");
  if (has_hw) {
    PYC_CHECK(p.has(field + "_h") && p.has(field + "_w"), where, ": give both ", field, "_h and ", field, "_w");
    h = p.get_int(field + "_h");
    w = p.get_int(field + "_w");
  } else if (v.empty()) {
    h = w = deflt;
  } else {
    PYC_CHECK(v.size() <= 2, where, ": ", field, " takes 1 or 2 values for 2-D convolution, got ", v.size());
    h = v[0];
    w = v.back();
  }
}
// A band holds at least kMinBandColumns output positions (GEMMs need a wide N to run at full
// speed) and otherwise as many rows as fit in kBandFloats (16 MB) of column buffer.
constexpr int64_t kBandFloats = 1 << 22;
constexpr int64_t kMinBandColumns = 2048;
}  // namespace

void BaseConvolutionLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("convolution_param");
  PYC_CHECK(p.has("num_output"), where(), ": convolution_param needs num_output");
  num_output_ = p.get_int("num_output");
  group_ = p.get_int("group");
  bias_ = p.get_bool("bias_term");
  PYC_CHECK(p.get_int("axis") == 1, where(), ": only axis 1 (NCHW) is supported");
  PYC_CHECK(bottom[0]->num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom, got ", bottom[0]->shape_string());
  const bool has_k = p.has("kernel_size") || p.has("kernel_h") || p.has("kernel_w");
  PYC_CHECK(has_k, where(), ": convolution_param needs kernel_size (or kernel_h and kernel_w)");
  read_pair(p, "kernel_size", 0, where(), kh_, kw_);
  if (p.has("kernel_h") || p.has("kernel_w")) {
    PYC_CHECK(!p.has("kernel_size"), where(), ": give kernel_size or kernel_h/kernel_w, not both");
    PYC_CHECK(p.has("kernel_h") && p.has("kernel_w"), where(), ": give both kernel_h and kernel_w");
    kh_ = p.get_int("kernel_h");
    kw_ = p.get_int("kernel_w");
  }
  read_pair(p, "stride", 1, where(), sh_, sw_);
  read_pair(p, "pad", 0, where(), ph_, pw_);
  const std::vector<int> dil = p.ints("dilation");
  PYC_CHECK(dil.size() <= 2, where(), ": dilation takes 1 or 2 values");
  dh_ = dil.empty() ? 1 : dil[0];
  dw_ = dil.empty() ? 1 : dil.back();
  PYC_CHECK(kh_ > 0 && kw_ > 0 && sh_ > 0 && sw_ > 0 && dh_ > 0 && dw_ > 0, where(), ": kernel, stride and dilation must be positive");
  PYC_CHECK(num_output_ > 0 && group_ > 0, where(), ": num_output and group must be positive");
  const int C = bottom[0]->shape(1);
  PYC_CHECK(C % group_ == 0 && num_output_ % group_ == 0, where(), ": input channels (", C, ") and num_output (", num_output_,
            ") must both be multiples of group (", group_, ")");
  im_channels_ = reverse() ? num_output_ : C;
  col_channels_ = reverse() ? C : num_output_;
  blobs_.push_back(std::make_shared<Blob>(std::vector<int>{col_channels_, im_channels_ / group_, kh_, kw_}));
  fill(*blobs_[0], p.msg("weight_filler"));
  if (bias_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_}));
    fill(*blobs_[1], p.msg("bias_filler"));
  }
}

void BaseConvolutionLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& b0 = *bottom[0];
  PYC_CHECK(b0.num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom, got ", b0.shape_string());
  const int expected_c = reverse() ? col_channels_ : im_channels_;
  PYC_CHECK(b0.shape(1) == expected_c, where(), ": bottom ", b0.shape_string(), " has ", b0.shape(1),
            " channels but the weights ", blobs_[0]->shape_string(), " expect ", expected_c);
  for (size_t i = 1; i < bottom.size(); ++i)
    PYC_CHECK(bottom[i]->shape() == b0.shape(), where(), ": bottom ", i, " has shape ", bottom[i]->shape_string(),
              " but bottom 0 has ", b0.shape_string());
  const int H = b0.shape(2), W = b0.shape(3);
  const int ekh = dh_ * (kh_ - 1) + 1, ekw = dw_ * (kw_ - 1) + 1;
  int im_h, im_w, col_h, col_w;
  if (!reverse()) {
    im_h = H;
    im_w = W;
    col_h = (H + 2 * ph_ - ekh) / sh_ + 1;
    col_w = (W + 2 * pw_ - ekw) / sw_ + 1;
    PYC_CHECK(H + 2 * ph_ >= ekh && W + 2 * pw_ >= ekw, where(), ": bottom ", b0.shape_string(),
              " plus padding is smaller than the kernel (", ekh, ", ", ekw, ")");
  } else {
    col_h = H;
    col_w = W;
    im_h = sh_ * (H - 1) + ekh - 2 * ph_;
    im_w = sw_ * (W - 1) + ekw - 2 * pw_;
    PYC_CHECK(im_h > 0 && im_w > 0, where(), ": output size (", im_h, ", ", im_w, ") is not positive");
  }
  geom_ = {im_channels_ / group_, im_h, im_w, kh_, kw_, ph_, pw_, sh_, sw_, dh_, dw_, col_h, col_w};
  is_1x1_ = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && ph_ == 0 && pw_ == 0;
  const std::vector<int> top_shape = reverse() ? std::vector<int>{b0.shape(0), num_output_, im_h, im_w}
                                               : std::vector<int>{b0.shape(0), num_output_, col_h, col_w};
  for (Blob* t : top) {
    PYC_CHECK(std::find(bottom.begin(), bottom.end(), t) == bottom.end(), where(), ": cannot run in place");
    t->reshape(top_shape);
  }
  if (!is_1x1_ && !(reverse() && depthwise())) {  // depthwise deconvolution needs no buffer
    const int64_t K = static_cast<int64_t>(geom_.channels) * kh_ * kw_;
    col_buffer_.resize(static_cast<size_t>(K * band_rows(kBandFloats) * col_w));
  }
}

int BaseConvolutionLayer::band_rows(int64_t budget_floats) const {
  const int64_t per_row = static_cast<int64_t>(geom_.channels) * kh_ * kw_ * geom_.out_w;
  const int64_t rows = std::max(budget_floats / std::max<int64_t>(per_row, 1), (kMinBandColumns + geom_.out_w - 1) / std::max(geom_.out_w, 1));  // out_w is 0 for an empty bottom
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(geom_.out_h, rows)));
}

void BaseConvolutionLayer::columns_from_image(const float* image, float* columns) {
  const int Mg = col_channels_ / group_;
  const int Kg = geom_.channels * kh_ * kw_;
  const int P = geom_.out_h * geom_.out_w;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  const float* w = blobs_[0]->cpu_data();
  for (int g = 0; g < group_; ++g) {
    const float* wg = w + static_cast<int64_t>(g) * Mg * Kg;
    const float* img = image + g * im_g;
    float* col = columns + static_cast<int64_t>(g) * Mg * P;
    if (is_1x1_) {
      blas::gemm(false, false, Mg, P, Kg, 1.f, wg, img, 0.f, col);
      continue;
    }
    const int rows = band_rows(kBandFloats);
    for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
      const int oh1 = std::min(geom_.out_h, oh0 + rows);
      const int Pb = (oh1 - oh0) * geom_.out_w;
      im2col_band(img, geom_, oh0, oh1, col_buffer_.data());
      blas::gemm_ld(false, false, Mg, Pb, Kg, 1.f, wg, Kg, col_buffer_.data(), Pb, 0.f, col + oh0 * geom_.out_w, P);
    }
  }
}

void BaseConvolutionLayer::image_from_columns(const float* columns, float* image) {
  const int Mg = col_channels_ / group_;
  const int Kg = geom_.channels * kh_ * kw_;
  const int P = geom_.out_h * geom_.out_w;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  const float* w = blobs_[0]->cpu_data();
  for (int g = 0; g < group_; ++g) {
    const float* wg = w + static_cast<int64_t>(g) * Mg * Kg;
    float* img = image + g * im_g;
    const float* col = columns + static_cast<int64_t>(g) * Mg * P;
    if (is_1x1_) {
      blas::gemm(true, false, Kg, P, Mg, 1.f, wg, col, 0.f, img);
      continue;
    }
    blas::set(im_g, 0.f, img);
    const int rows = band_rows(kBandFloats);
    for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
      const int oh1 = std::min(geom_.out_h, oh0 + rows);
      const int Pb = (oh1 - oh0) * geom_.out_w;
      blas::gemm_ld(true, false, Kg, Pb, Mg, 1.f, wg, Kg, col + oh0 * geom_.out_w, P, 0.f, col_buffer_.data(), Pb);
      col2im_band(col_buffer_.data(), geom_, oh0, oh1, img);
    }
  }
}

void BaseConvolutionLayer::weight_gradient(const float* image, const float* columns, float* dw) {
  const int Mg = col_channels_ / group_;
  const int Kg = geom_.channels * kh_ * kw_;
  const int P = geom_.out_h * geom_.out_w;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  for (int g = 0; g < group_; ++g) {
    float* dwg = dw + static_cast<int64_t>(g) * Mg * Kg;
    const float* img = image + g * im_g;
    const float* col = columns + static_cast<int64_t>(g) * Mg * P;
    if (is_1x1_) {
      blas::gemm(false, true, Mg, Kg, P, 1.f, col, img, 1.f, dwg);
      continue;
    }
    const int rows = band_rows(kBandFloats);
    for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
      const int oh1 = std::min(geom_.out_h, oh0 + rows);
      const int Pb = (oh1 - oh0) * geom_.out_w;
      im2col_band(img, geom_, oh0, oh1, col_buffer_.data());
      blas::gemm_ld(false, true, Mg, Kg, Pb, 1.f, col + oh0 * geom_.out_w, P, col_buffer_.data(), Pb, 1.f, dwg, Kg);
    }
  }
}

void BaseConvolutionLayer::add_bias(float* data, int channels, int64_t spatial) {
  const float* b = blobs_[1]->cpu_data();
#pragma omp parallel for if (channels * spatial > 65536)
  for (int c = 0; c < channels; ++c)
    for (int64_t i = 0; i < spatial; ++i) data[c * spatial + i] += b[c];
}

void BaseConvolutionLayer::bias_gradient(const float* diff, int channels, int64_t spatial, float* db) {
#pragma omp parallel for if (channels * spatial > 65536)
  for (int c = 0; c < channels; ++c) {
    double s = 0;
    for (int64_t i = 0; i < spatial; ++i) s += diff[c * spatial + i];
    db[c] += static_cast<float>(s);
  }
}

}  // namespace pycolorize
