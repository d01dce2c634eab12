// layers/power_layer.cpp
#include "layers/power_layer.h"

#include <cmath>

namespace pycolorize {

void PowerLayer::reshape(const Blobs& bottom, const Blobs& top) {
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
}

void PowerLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const proto::Message& pp = param_.msg("power_param");
  const float power = pp.get_float("power"), scale = pp.get_float("scale"), shift = pp.get_float("shift");
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  const int64_t n = bottom[0]->count();
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    const float v = shift + scale * x[i];
    y[i] = power == 1.f ? v : power == 2.f ? v * v : std::pow(v, power);
  }
}

// dy/dx = power * scale * (shift + scale * x)^(power - 1)
void PowerLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const proto::Message& pp = param_.msg("power_param");
  const float power = pp.get_float("power"), scale = pp.get_float("scale"), shift = pp.get_float("shift");
  const float* x = bottom[0]->cpu_data();
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  const int64_t n = bottom[0]->count();
  PYC_CHECK(top[0] != bottom[0] || power == 1.f, where(), ": in-place Power needs power 1 (the backward pass reads x)");
  const float ds = power * scale;
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    const float v = shift + scale * x[i];
    const float g = (ds == 0.f || power == 1.f) ? ds : power == 2.f ? ds * v : ds * std::pow(v, power - 1.f);
    dx[i] = g * dy[i];
  }
}

REGISTER_LAYER("Power", PowerLayer);

}  // namespace pycolorize
