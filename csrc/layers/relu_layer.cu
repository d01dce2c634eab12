// layers/relu_layer.cu: ReLU on the GPU, the same formulas as relu_layer.cpp.
#include "layers/relu_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void relu_forward(int64_t n, const float* x, float* y, float slope) {
  CUDA_KERNEL_LOOP(i, n) y[i] = fmaxf(x[i], 0.f) + slope * fminf(x[i], 0.f);
}
__global__ void relu_backward(int64_t n, const float* x, const float* dy, float* dx, float slope) {
  CUDA_KERNEL_LOOP(i, n) dx[i] = dy[i] * ((x[i] > 0) + slope * (x[i] <= 0));
}
}  // namespace

void ReLULayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  relu_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, x, top[0]->mutable_gpu_data(),
                                                  param_.msg("relu_param").get_float("negative_slope"));
  CUDA_POST_LAUNCH();
}

void ReLULayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  const float* dy = top[0]->gpu_diff();
  relu_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, x, dy, bottom[0]->mutable_gpu_diff(),
                                                   param_.msg("relu_param").get_float("negative_slope"));
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
