// layers/euclidean_loss_layer.cpp
#include "layers/euclidean_loss_layer.h"

#include "util/blas.h"

namespace pycolorize {

void EuclideanLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
  PYC_CHECK(bottom[0]->num_axes() >= 1 && bottom[0]->count(1) == bottom[1]->count(1) &&
                bottom[0]->shape(0) == bottom[1]->shape(0),
            where(), ": the two bottoms must have the same size, got ", bottom[0]->shape_string(), " and ",
            bottom[1]->shape_string());
  top[0]->reshape({});
  diff_.reshape_like(*bottom[0]);
}

void EuclideanLossLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* a = bottom[0]->cpu_data();
  const float* b = bottom[1]->cpu_data();
  float* d = diff_.mutable_cpu_data();
  for (int64_t i = 0; i < n; ++i) d[i] = a[i] - b[i];
  top[0]->mutable_cpu_data()[0] = static_cast<float>(blas::dot(n, d, d) / bottom[0]->shape(0) / 2);
}

void EuclideanLossLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const int64_t n = bottom[0]->count();
  for (int i = 0; i < 2; ++i) {
    if (!propagate_down[i]) continue;
    const float alpha = (i == 0 ? 1.f : -1.f) * top[0]->cpu_diff()[0] / bottom[i]->shape(0);
    const float* d = diff_.cpu_data();
    float* dx = bottom[i]->mutable_cpu_diff();
    for (int64_t k = 0; k < n; ++k) dx[k] = alpha * d[k];
  }
}

REGISTER_LAYER("EuclideanLoss", EuclideanLossLayer);

}  // namespace pycolorize
