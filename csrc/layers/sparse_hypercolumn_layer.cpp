// layers/sparse_hypercolumn_layer.cpp
#include "layers/sparse_hypercolumn_layer.h"

#include <cstring>

namespace pycolorize {

void SparseHypercolumnLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("sparse_hypercolumn_extractor_param");
  const size_t L = bottom.size() - 1;
  scale_ = p.floats("scale");
  offset_h_ = p.floats("offset_height");
  offset_w_ = p.floats("offset_width");
  mult_ = p.floats("activation_mult");
  auto check_count = [&](const std::vector<float>& v, const char* name) {
    PYC_CHECK(v.size() == L, where(), ": sparse_hypercolumn_extractor_param has ", v.size(), " ", name,
              " value(s) for ", L, " feature bottom(s); give one per feature bottom");
  };
  check_count(scale_, "scale");
  check_count(offset_h_, "offset_height");
  check_count(offset_w_, "offset_width");
  PYC_CHECK(mult_.size() <= L, where(), ": ", mult_.size(), " activation_mult values for ", L, " feature bottoms");
  mult_.resize(L, 1.f);  // missing entries are 1, counted from the first feature bottom (as released)
  for (size_t l = 0; l < L; ++l) PYC_CHECK(scale_[l] > 0, where(), ": scale ", l, " must be positive, got ", scale_[l]);
}

void SparseHypercolumnLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& c = *bottom[0];
  PYC_CHECK(c.num_axes() == 3 && c.shape(2) == 2, where(), ": centroids must be (N, P, 2) holding (y, x), got ",
            c.shape_string());
  N_ = c.shape(0);
  P_ = c.shape(1);
  D_ = 0;
  channel_offset_.clear();
  for (size_t l = 1; l < bottom.size(); ++l) {
    const Blob& f = *bottom[l];
    PYC_CHECK(f.num_axes() == 4 && f.shape(0) == N_, where(), ": feature bottom ", l, " must be (", N_,
              ", C, H, W) to match the centroids ", c.shape_string(), ", got ", f.shape_string());
    PYC_CHECK(f.shape(2) >= 2 && f.shape(3) >= 2, where(), ": feature bottom ", l, " ", f.shape_string(),
              " is smaller than 2x2 (bilinear sampling reads two rows and two columns)");
    channel_offset_.push_back(D_);
    D_ += f.shape(1);
  }
  top[0]->reshape({static_cast<int>(N_ * P_), static_cast<int>(D_)});
}

void SparseHypercolumnLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const float* cent = bottom[0]->cpu_data();
  float* out = top[0]->mutable_cpu_data();
  for (size_t l = 1; l < bottom.size(); ++l) {
    const Blob& f = *bottom[l];
    const int C = f.shape(1), H = f.shape(2), W = f.shape(3);
    const int64_t plane = static_cast<int64_t>(H) * W;
    const float* F = f.cpu_data();
    const float s = scale_[l - 1], oh = offset_h_[l - 1], ow = offset_w_[l - 1], m = mult_[l - 1];
    const int64_t off = channel_offset_[l - 1];
#pragma omp parallel for if (N_ * P_ * C > 65536)
    for (int64_t r = 0; r < N_ * P_; ++r) {
      const HypercolumnTaps t = hypercolumn_taps(cent[2 * r], cent[2 * r + 1], oh, ow, s, H, W);
      const float* Fn = F + (r / P_) * C * plane + t.y0 * W + t.x0;
      float* o = out + r * D_ + off;
      for (int c = 0; c < C; ++c) o[c] = m * hypercolumn_read(t, Fn + c * plane, W);
    }
  }
}

void SparseHypercolumnLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  PYC_CHECK(!propagate_down[0], where(), ": cannot back-propagate into the centroids");
  const float* cent = bottom[0]->cpu_data();
  const float* dy = top[0]->cpu_diff();
  for (size_t l = 1; l < bottom.size(); ++l) {
    if (!propagate_down[l]) continue;
    Blob& f = *bottom[l];
    const int C = f.shape(1), H = f.shape(2), W = f.shape(3);
    const int64_t plane = static_cast<int64_t>(H) * W;
    float* dF = f.mutable_cpu_diff();
    std::memset(dF, 0, sizeof(float) * f.count());
    const float s = scale_[l - 1], oh = offset_h_[l - 1], ow = offset_w_[l - 1], m = mult_[l - 1];
    const int64_t off = channel_offset_[l - 1];
    // Images own disjoint planes, so they scatter in parallel; samples of one image in order.
#pragma omp parallel for if (N_ * P_ * C > 65536)
    for (int64_t n = 0; n < N_; ++n)
      for (int64_t p = 0; p < P_; ++p) {
        const int64_t r = n * P_ + p;
        const HypercolumnTaps t = hypercolumn_taps(cent[2 * r], cent[2 * r + 1], oh, ow, s, H, W);
        float* dFn = dF + n * C * plane + t.y0 * W + t.x0;
        const float* g = dy + r * D_ + off;
        for (int c = 0; c < C; ++c) {
          float* q = dFn + c * plane;
          const float v = m * g[c];
          q[0] += v * t.wy0 * t.wx0;
          q[W] += v * t.wy1 * t.wx0;
          q[1] += v * t.wy0 * t.wx1;
          q[W + 1] += v * t.wy1 * t.wx1;
        }
      }
  }
}

REGISTER_LAYER("SparseHypercolumnExtractor", SparseHypercolumnLayer);

}  // namespace pycolorize
