// layers/inner_product_layer.cu: InnerProduct on cuBLAS; the bias enters as a rank-1 GEMM with a
// ones vector and its gradient is a GEMV against one.
#include "layers/inner_product_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void InnerProductLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  float* y = top[0]->mutable_gpu_data();
  gpu::gemm(false, !transpose_, M_, N_, K_, 1.f, bottom[0]->gpu_data(), blobs_[0]->gpu_data(), 0.f, y);
  if (bias_) gpu::gemm(false, false, M_, N_, 1, 1.f, gpu::ones(M_), blobs_[1]->gpu_data(), 1.f, y);
}

void InnerProductLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const float* dy = top[0]->gpu_diff();
  const float* x = bottom[0]->gpu_data();
  if (param_propagate_down(0)) {
    if (transpose_)
      gpu::gemm(true, false, K_, N_, M_, 1.f, x, dy, 1.f, blobs_[0]->mutable_gpu_diff());
    else
      gpu::gemm(true, false, N_, K_, M_, 1.f, dy, x, 1.f, blobs_[0]->mutable_gpu_diff());
  }
  if (bias_ && param_propagate_down(1)) gpu::gemv(true, M_, N_, 1.f, dy, gpu::ones(M_), 1.f, blobs_[1]->mutable_gpu_diff());
  if (propagate_down[0])
    gpu::gemm(false, transpose_, M_, K_, N_, 1.f, dy, blobs_[0]->gpu_data(), 0.f, bottom[0]->mutable_gpu_diff());
}

}  // namespace pycolorize
