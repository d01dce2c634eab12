// layers/softmax_layer.cpp
#include "layers/softmax_layer.h"

#include <cmath>
#include <vector>

namespace pycolorize {

void SoftmaxLayer::reshape(const Blobs& bottom, const Blobs& top) {
  bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
}

// For each (outer, inner) position: y_c = exp(x_c - max) / sum_c' exp(x_c' - max).
void softmax_cpu(const float* x, float* y, int64_t outer, int C, int64_t inner) {
#pragma omp parallel for collapse(2) if (outer * inner > 4096)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* xp = x + o * C * inner + i;
      float* yp = y + o * C * inner + i;
      float m = xp[0];
      for (int c = 1; c < C; ++c) m = std::max(m, xp[c * inner]);
      float s = 0;
      for (int c = 0; c < C; ++c) s += (yp[c * inner] = std::exp(xp[c * inner] - m));
      for (int c = 0; c < C; ++c) yp[c * inner] /= s;
    }
  }
}

void SoftmaxLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int axis = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  softmax_cpu(bottom[0]->cpu_data(), top[0]->mutable_cpu_data(), bottom[0]->count(0, axis), bottom[0]->shape(axis),
              bottom[0]->count(axis + 1));
}

// dx_c = y_c * (dy_c - sum_c' dy_c' y_c')
void SoftmaxLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int axis = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  const int64_t outer = bottom[0]->count(0, axis), inner = bottom[0]->count(axis + 1);
  const int C = bottom[0]->shape(axis);
  const float* y = top[0]->cpu_data();
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
#pragma omp parallel for collapse(2) if (outer * inner > 4096)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * C * inner + i;
      float d = 0;
      for (int c = 0; c < C; ++c) d += dy[base + c * inner] * y[base + c * inner];
      for (int c = 0; c < C; ++c) dx[base + c * inner] = (dy[base + c * inner] - d) * y[base + c * inner];
    }
  }
}

REGISTER_LAYER("Softmax", SoftmaxLayer);

}  // namespace pycolorize
