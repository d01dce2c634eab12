// layers/eltwise_layer.cu: Eltwise (PROD, SUM, MAX) on the GPU, as eltwise_layer.cpp.
#include "layers/eltwise_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void mul_inplace(int64_t n, const float* x, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] *= x[i];
}
// b == 1: the first two bottoms; later bottoms replace the winner only when strictly larger.
__global__ void max_forward(int64_t n, int b, const float* a, const float* c, float* y, int* argmax) {
  CUDA_KERNEL_LOOP(i, n) {
    if (b == 1) {
      const bool first = a[i] > c[i];
      y[i] = first ? a[i] : c[i];
      argmax[i] = first ? 0 : 1;
    } else if (c[i] > y[i]) {
      y[i] = c[i];
      argmax[i] = b;
    }
  }
}
__global__ void max_backward(int64_t n, int b, const int* argmax, const float* dy, float* dx) {
  CUDA_KERNEL_LOOP(i, n) dx[i] = argmax[i] == b ? dy[i] : 0.f;
}
__global__ void prod_backward(int64_t n, const float* y, const float* x, const float* dy, float* dx) {
  CUDA_KERNEL_LOOP(i, n) dx[i] = y[i] / x[i] * dy[i];
}
}  // namespace

void EltwiseLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = top[0]->count();
  float* y = top[0]->mutable_gpu_data();
  if (op_ == "PROD") {
    gpu::copy(n, bottom[0]->gpu_data(), y);
    for (size_t b = 1; b < bottom.size(); ++b) {
      mul_inplace<<<gpu::blocks(n), gpu::kThreads>>>(n, bottom[b]->gpu_data(), y);
      CUDA_POST_LAUNCH();
    }
  } else if (op_ == "SUM") {
    gpu::set(n, 0.f, y);
    for (size_t b = 0; b < bottom.size(); ++b) gpu::axpy(n, coeffs_[b], bottom[b]->gpu_data(), y);
  } else {
    int* am = gpu_argmax_.as<int>(n);
    for (size_t b = 1; b < bottom.size(); ++b) {
      max_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, static_cast<int>(b), bottom[0]->gpu_data(), bottom[b]->gpu_data(), y, am);
      CUDA_POST_LAUNCH();
    }
  }
}

void EltwiseLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const int64_t n = top[0]->count();
  const float* dy = top[0]->gpu_diff();
  const float* y = top[0]->gpu_data();
  const bool stable = param_.msg("eltwise_param").get_bool("stable_prod_grad");
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (!propagate_down[b]) continue;
    float* dx = bottom[b]->mutable_gpu_diff();
    if (op_ == "PROD") {
      if (stable) {
        gpu::set(n, 1.f, dx);
        for (size_t o = 0; o < bottom.size(); ++o)
          if (o != b) mul_inplace<<<gpu::blocks(n), gpu::kThreads>>>(n, bottom[o]->gpu_data(), dx);
        mul_inplace<<<gpu::blocks(n), gpu::kThreads>>>(n, dy, dx);
      } else {
        prod_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, y, bottom[b]->gpu_data(), dy, dx);
      }
    } else if (op_ == "SUM") {
      gpu::scaled_copy(n, coeffs_[b], dy, dx);
    } else {
      max_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, static_cast<int>(b), gpu_argmax_.as<int>(n), dy, dx);
    }
    CUDA_POST_LAUNCH();
  }
}

}  // namespace pycolorize
