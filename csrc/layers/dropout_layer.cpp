// layers/dropout_layer.cpp
#include "layers/dropout_layer.h"

#include <random>

#include "util/blas.h"

namespace pycolorize {

void DropoutLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const float r = param_.msg("dropout_param").get_float("dropout_ratio");
  PYC_CHECK(r >= 0.f && r < 1.f, where(), ": dropout_ratio must be in [0, 1), got ", r);
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
  mask_.resize(bottom[0]->count());
}

float DropoutLayer::draw_mask(int64_t n) {
  const float r = param_.msg("dropout_param").get_float("dropout_ratio");
  std::bernoulli_distribution keep(1.0 - r);
  auto& rng = Runtime::rng();
  for (int64_t i = 0; i < n; ++i) mask_[i] = keep(rng);
  return 1.f / (1.f - r);
}

void DropoutLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  const int64_t n = bottom[0]->count();
  if (phase_ != Phase::TRAIN) {
    blas::copy(n, x, y);
    return;
  }
  const float scale = draw_mask(n);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mask_[i] * scale;
}

void DropoutLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  const int64_t n = bottom[0]->count();
  if (phase_ != Phase::TRAIN) {
    blas::copy(n, dy, dx);
    return;
  }
  const float scale = 1.f / (1.f - param_.msg("dropout_param").get_float("dropout_ratio"));
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask_[i] * scale;
}

REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace pycolorize
