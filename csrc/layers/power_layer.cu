// layers/power_layer.cu: Power on the GPU, y = (shift + scale * x)^power, as power_layer.cpp.
#include "layers/power_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void power_forward(int64_t n, const float* x, float* y, float power, float scale, float shift) {
  CUDA_KERNEL_LOOP(i, n) {
    const float v = shift + scale * x[i];
    y[i] = power == 1.f ? v : power == 2.f ? v * v : powf(v, power);
  }
}
__global__ void power_backward(int64_t n, const float* x, const float* dy, float* dx, float power, float scale, float shift) {
  CUDA_KERNEL_LOOP(i, n) {
    const float ds = power * scale;
    const float v = shift + scale * x[i];
    const float g = (ds == 0.f || power == 1.f) ? ds : power == 2.f ? ds * v : ds * powf(v, power - 1.f);
    dx[i] = g * dy[i];
  }
}
}  // namespace

void PowerLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const proto::Message& pp = param_.msg("power_param");
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  power_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, x, top[0]->mutable_gpu_data(), pp.get_float("power"),
                                                   pp.get_float("scale"), pp.get_float("shift"));
  CUDA_POST_LAUNCH();
}

void PowerLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const proto::Message& pp = param_.msg("power_param");
  PYC_CHECK(top[0] != bottom[0] || pp.get_float("power") == 1.f, where(), ": in-place Power needs power 1 (the backward pass reads x)");
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  const float* dy = top[0]->gpu_diff();
  power_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, x, dy, bottom[0]->mutable_gpu_diff(), pp.get_float("power"),
                                                    pp.get_float("scale"), pp.get_float("shift"));
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
