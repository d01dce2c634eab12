// layers/euclidean_loss_layer.cu: EuclideanLoss on the GPU, loss = ||a - b||^2 / (2N).
#include "layers/euclidean_loss_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void sub_kernel(int64_t n, const float* a, const float* b, float* d) {
  CUDA_KERNEL_LOOP(i, n) d[i] = a[i] - b[i];
}
}  // namespace

void EuclideanLossLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  float* d = diff_.mutable_gpu_data();
  sub_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, bottom[0]->gpu_data(), bottom[1]->gpu_data(), d);
  CUDA_POST_LAUNCH();
  top[0]->mutable_cpu_data()[0] = static_cast<float>(gpu::dot(n, d, d) / bottom[0]->shape(0) / 2);
}

void EuclideanLossLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const int64_t n = bottom[0]->count();
  for (int i = 0; i < 2; ++i) {
    if (!propagate_down[i]) continue;
    const float alpha = (i == 0 ? 1.f : -1.f) * top[0]->cpu_diff()[0] / bottom[i]->shape(0);
    gpu::scaled_copy(n, alpha, diff_.gpu_data(), bottom[i]->mutable_gpu_diff());
  }
}

}  // namespace pycolorize
