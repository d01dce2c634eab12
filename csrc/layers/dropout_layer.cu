// layers/dropout_layer.cu: Dropout on the GPU. The mask is drawn on the host from the same
// generator as the CPU path (so CPU and GPU drop the same units for the same seed) and uploaded as
// scale-or-zero factors.
#include <vector>

#include "layers/dropout_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void mul_kernel(int64_t n, const float* a, const float* m, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] = a[i] * m[i];
}
}  // namespace

void DropoutLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  float* y = top[0]->mutable_gpu_data();
  if (phase_ != Phase::TRAIN) {
    gpu::copy(n, x, y);
    return;
  }
  const float scale = draw_mask(n);
  std::vector<float> factors(n);
  for (int64_t i = 0; i < n; ++i) factors[i] = mask_[i] * scale;
  float* m = gpu_mask_.as<float>(n);
  CUDA_CHECK(cudaMemcpy(m, factors.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  mul_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, x, m, y);
  CUDA_POST_LAUNCH();
}

void DropoutLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  const float* dy = top[0]->gpu_diff();
  float* dx = bottom[0]->mutable_gpu_diff();
  if (phase_ != Phase::TRAIN) {
    gpu::copy(n, dy, dx);
    return;
  }
  mul_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, dy, gpu_mask_.as<float>(n), dx);
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
