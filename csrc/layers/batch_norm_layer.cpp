// layers/batch_norm_layer.cpp
#include "layers/batch_norm_layer.h"

#include <cmath>

#include "util/blas.h"

namespace pycolorize {

void BatchNormLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("batch_norm_param");
  global_ = p.has("use_global_stats") ? p.get_bool("use_global_stats") : phase_ == Phase::TEST;
  C_ = bottom[0]->num_axes() == 1 ? 1 : bottom[0]->shape(1);
  for (auto shape : {std::vector<int>{C_}, std::vector<int>{C_}, std::vector<int>{1}}) blobs_.push_back(std::make_shared<Blob>(shape));
  // As in Caffe, the statistics are not learned: their lr_mult must be 0 (the Net defaults it so).
  for (const proto::Message* s : param_.msgs("param"))
    PYC_CHECK(s->get_float("lr_mult") == 0.f, where(), ": BatchNorm statistics cannot be learned parameters (lr_mult must be 0)");
}

void BatchNormLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const int c = bottom[0]->num_axes() == 1 ? 1 : bottom[0]->shape(1);
  PYC_CHECK(c == C_, where(), ": bottom ", bottom[0]->shape_string(), " has ", c, " channels, the layer was set up for ", C_);
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
  x_norm_.reshape_like(*bottom[0]);
}

void BatchNormLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("batch_norm_param");
  const float eps = p.get_float("eps");
  const int64_t N = bottom[0]->shape(0), S = bottom[0]->count() / (N * C_);
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  mean_.assign(C_, 0.f);
  inv_std_.assign(C_, 0.f);
  std::vector<float> var(C_, 0.f);
  if (global_) {
    const float f = blobs_[2]->cpu_data()[0];
    const float scale = f == 0.f ? 0.f : 1.f / f;
    for (int c = 0; c < C_; ++c) {
      mean_[c] = scale * blobs_[0]->cpu_data()[c];
      var[c] = scale * blobs_[1]->cpu_data()[c];
    }
  } else {
    for (int c = 0; c < C_; ++c) {
      double s = 0, s2 = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) s += x[(n * C_ + c) * S + i];
      const double m = s / (N * S);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const double d = x[(n * C_ + c) * S + i] - m;
          s2 += d * d;
        }
      mean_[c] = static_cast<float>(m);
      var[c] = static_cast<float>(s2 / (N * S));
    }
    // Running statistics, as Caffe accumulates them (with the unbiased variance correction).
    const float maf = p.get_float("moving_average_fraction");
    float* f = blobs_[2]->mutable_cpu_data();
    f[0] = f[0] * maf + 1.f;
    const int64_t m = N * S;
    const float bias_correction = m > 1 ? static_cast<float>(m) / (m - 1) : 1.f;
    float* ms = blobs_[0]->mutable_cpu_data();
    float* vs = blobs_[1]->mutable_cpu_data();
    for (int c = 0; c < C_; ++c) {
      ms[c] = mean_[c] + maf * ms[c];
      vs[c] = bias_correction * var[c] + maf * vs[c];
    }
  }
  for (int c = 0; c < C_; ++c) inv_std_[c] = 1.f / std::sqrt(var[c] + eps);
  float* xn = x_norm_.mutable_cpu_data();
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C_; ++c)
      for (int64_t i = 0; i < S; ++i) {
        const int64_t k = (n * C_ + c) * S + i;
        y[k] = xn[k] = (x[k] - mean_[c]) * inv_std_[c];
      }
}

// Global stats: dx = dy / std. Batch stats: dx = (dy - mean(dy) - y * mean(dy * y)) / std, means
// over the batch and spatial positions of each channel.
void BatchNormLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t N = bottom[0]->shape(0), S = bottom[0]->count() / (N * C_);
  const float* dy = top[0]->cpu_diff();
  const float* y = x_norm_.cpu_data();
  float* dx = bottom[0]->mutable_cpu_diff();
  for (int c = 0; c < C_; ++c) {
    double mdy = 0, mdyy = 0;
    if (!global_) {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = (n * C_ + c) * S + i;
          mdy += dy[k];
          mdyy += dy[k] * y[k];
        }
      mdy /= N * S;
      mdyy /= N * S;
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const int64_t k = (n * C_ + c) * S + i;
        dx[k] = static_cast<float>((dy[k] - mdy - y[k] * mdyy) * inv_std_[c]);
      }
  }
}

REGISTER_LAYER("BatchNorm", BatchNormLayer);

}  // namespace pycolorize
