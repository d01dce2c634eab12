// layers/relu_layer.cpp
#include "layers/relu_layer.h"

#include <algorithm>

namespace pycolorize {

void ReLULayer::reshape(const Blobs& bottom, const Blobs& top) {
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
}

void ReLULayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const float slope = param_.msg("relu_param").get_float("negative_slope");
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  const int64_t n = bottom[0]->count();
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.f) + slope * std::min(x[i], 0.f);
}

// In place, x is the stored output; its sign is the input's (slope >= 0), as in Caffe.
void ReLULayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const float slope = param_.msg("relu_param").get_float("negative_slope");
  const float* x = bottom[0]->cpu_data();
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  const int64_t n = bottom[0]->count();
#pragma omp parallel for if (n > 32768)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * ((x[i] > 0) + slope * (x[i] <= 0));
}

REGISTER_LAYER("ReLU", ReLULayer);

}  // namespace pycolorize
