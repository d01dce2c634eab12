// layers/scale_layer.cu: Scale on the GPU: y = x * s[d] + b[d] over (outer, dim, inner); the scale
// and bias gradients reduce over outer and inner with one block per d (in double).
#include "layers/scale_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void scale_forward(int64_t n, int64_t dim, int64_t inner, const float* x, const float* s, const float* b,
                              float* y) {
  CUDA_KERNEL_LOOP(k, n) {
    const int64_t d = (k / inner) % dim;
    y[k] = x[k] * s[d] + (b ? b[d] : 0.f);
  }
}
__global__ void scale_backward_x(int64_t n, int64_t dim, int64_t inner, const float* dy, const float* s, float* dx) {
  CUDA_KERNEL_LOOP(k, n) dx[k] = dy[k] * s[(k / inner) % dim];
}
// grid = dim blocks: out[d] += sum over (o, i) of dy * (x or 1).
__global__ void reduce_per_d(int64_t outer, int64_t dim, int64_t inner, const float* dy, const float* x, float* out) {
  __shared__ double sh[gpu::kThreads];
  const int64_t d = blockIdx.x;
  double acc = 0;
  for (int64_t j = threadIdx.x; j < outer * inner; j += blockDim.x) {
    const int64_t k = ((j / inner) * dim + d) * inner + j % inner;
    acc += x ? static_cast<double>(dy[k]) * x[k] : dy[k];
  }
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = gpu::kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[d] += static_cast<float>(sh[0]);
}
}  // namespace

void ScaleLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->gpu_data();
  if (top[0] == bottom[0]) gpu::copy(n, x, saved_x_.mutable_gpu_data());
  const float* s = scale_blob(bottom).gpu_data();
  const float* b = bias_index_ >= 0 ? blobs_[bias_index_]->gpu_data() : nullptr;
  scale_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, dim_, inner_, x, s, b, top[0]->mutable_gpu_data());
  CUDA_POST_LAUNCH();
}

void ScaleLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const float* dy = top[0]->gpu_diff();
  const bool scale_is_param = bottom.size() == 1;
  if (bias_index_ >= 0 && param_propagate_down(bias_index_)) {
    reduce_per_d<<<dim_, gpu::kThreads>>>(outer_, dim_, inner_, dy, nullptr, blobs_[bias_index_]->mutable_gpu_diff());
    CUDA_POST_LAUNCH();
  }
  const bool want_scale = scale_is_param ? param_propagate_down(0) : propagate_down[1];
  if (want_scale) {
    const float* x = top[0] == bottom[0] ? saved_x_.gpu_data() : bottom[0]->gpu_data();
    // Parameter diffs accumulate; a bottom's diff is overwritten.
    float* ds = scale_is_param ? blobs_[0]->mutable_gpu_diff() : bottom[1]->mutable_gpu_diff();
    if (!scale_is_param) gpu::set(dim_, 0.f, ds);
    reduce_per_d<<<dim_, gpu::kThreads>>>(outer_, dim_, inner_, dy, x, ds);
    CUDA_POST_LAUNCH();
  }
  if (propagate_down[0]) {
    const int64_t n = bottom[0]->count();
    const float* s = scale_blob(bottom).gpu_data();
    scale_backward_x<<<gpu::blocks(n), gpu::kThreads>>>(n, dim_, inner_, dy, s, bottom[0]->mutable_gpu_diff());
    CUDA_POST_LAUNCH();
  }
}

}  // namespace pycolorize
