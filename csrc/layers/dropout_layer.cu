// layers/dropout_layer.cu: Dropout on the GPU: the mask is recomputed in the kernel from the
// forward pass's seed (util/philox.h), the same mask as the CPU path's for the same seed.
#include "layers/dropout_layer.h"
#include "util/cuda.cuh"
#include "util/gpu_math.h"

namespace pycolorize {

namespace {
// One thread per Philox block of four elements.
__global__ void mask_kernel(int64_t n, int64_t offset, const float* x, float* y, uint64_t seed, uint32_t threshold,
                            float scale) {
  CUDA_KERNEL_LOOP(b, dropout_blocks(n, offset)) dropout_block(b, n, offset, x, y, seed, threshold, scale);
}
}  // namespace

void DropoutLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  float* y = top[0]->mutable_gpu_data();
  if (phase_ != Phase::TRAIN) {
    if (x != y) gpu::copy(n, x, y);
    return;
  }
  new_seed();
  mask_kernel<<<gpu::blocks(dropout_blocks(n, offset(n))), gpu::kThreads>>>(n, offset(n), x, y, seed_, threshold(), scale());
  CUDA_POST_LAUNCH();
}

void DropoutLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  const float* dy = top[0]->gpu_diff();
  float* dx = bottom[0]->mutable_gpu_diff();
  if (phase_ != Phase::TRAIN) {
    if (dy != dx) gpu::copy(n, dy, dx);
    return;
  }
  mask_kernel<<<gpu::blocks(dropout_blocks(n, offset(n))), gpu::kThreads>>>(n, offset(n), dy, dx, seed_, threshold(), scale());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
