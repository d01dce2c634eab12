// layers/batch_norm_layer.cu: BatchNorm on the GPU. One block per channel reduces in double (as
// the CPU path does), the running statistics are updated on the device, and the element-wise
// passes use the per-channel mean and 1/std.
#include "layers/batch_norm_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
// Block-wide sum of one double per thread; the result is valid in every thread.
__device__ double block_sum(double v) {
  __shared__ double s[gpu::kThreads];
  __syncthreads();
  s[threadIdx.x] = v;
  __syncthreads();
  for (int k = gpu::kThreads / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  return s[0];
}

// Batch mean and (biased) variance of each channel: grid = C blocks.
__global__ void channel_stats(int64_t N, int C, int64_t S, const float* x, float* mean, float* var) {
  const int c = blockIdx.x;
  const int64_t m = N * S;
  double acc = 0;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) acc += x[((j / S) * C + c) * S + j % S];
  const double mu = block_sum(acc) / m;
  acc = 0;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
    const double d = x[((j / S) * C + c) * S + j % S] - mu;
    acc += d * d;
  }
  const double v = block_sum(acc) / m;
  if (threadIdx.x == 0) {
    mean[c] = static_cast<float>(mu);
    var[c] = static_cast<float>(v);
  }
}

__global__ void update_running(int C, float maf, float bias_correction, const float* mean, const float* var, float* ms,
                               float* vs) {
  CUDA_KERNEL_LOOP(c, C) {
    ms[c] = mean[c] + maf * ms[c];
    vs[c] = bias_correction * var[c] + maf * vs[c];
  }
}

__global__ void global_stats(int C, float scale, float eps, const float* ms, const float* vs, float* mean, float* inv_std) {
  CUDA_KERNEL_LOOP(c, C) {
    mean[c] = scale * ms[c];
    inv_std[c] = 1.f / sqrtf(scale * vs[c] + eps);
  }
}

__global__ void inv_std_kernel(int C, float eps, const float* var, float* inv_std) {
  CUDA_KERNEL_LOOP(c, C) inv_std[c] = 1.f / sqrtf(var[c] + eps);
}

__global__ void normalize(int64_t n, int C, int64_t S, const float* x, const float* mean, const float* inv_std, float* y,
                          float* xn) {
  CUDA_KERNEL_LOOP(k, n) {
    const int c = static_cast<int>((k / S) % C);
    const float v = (x[k] - mean[c]) * inv_std[c];
    y[k] = v;
    xn[k] = v;
  }
}

// Per channel: dx = (dy - mean(dy) - y * mean(dy * y)) / std; with global stats the means are 0.
__global__ void bn_backward(int64_t N, int C, int64_t S, bool global, const float* dy, const float* y,
                            const float* inv_std, float* dx) {
  const int c = blockIdx.x;
  const int64_t m = N * S;
  double mdy = 0, mdyy = 0;
  if (!global) {
    double a = 0, b = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      const int64_t k = ((j / S) * C + c) * S + j % S;
      a += dy[k];
      b += static_cast<double>(dy[k]) * y[k];
    }
    mdy = block_sum(a) / m;
    mdyy = block_sum(b) / m;
  }
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
    const int64_t k = ((j / S) * C + c) * S + j % S;
    dx[k] = static_cast<float>((dy[k] - mdy - y[k] * mdyy) * inv_std[c]);
  }
}
}  // namespace

void BatchNormLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("batch_norm_param");
  const float eps = p.get_float("eps");
  const int64_t N = bottom[0]->shape(0), S = bottom[0]->count() / (N * C_);
  float* mean = gpu_mean_.as<float>(C_);
  float* inv_std = gpu_inv_std_.as<float>(C_);
  const float* x = bottom[0]->gpu_data();
  if (global_) {
    const float f = blobs_[2]->cpu_data()[0];
    global_stats<<<gpu::blocks(C_), gpu::kThreads>>>(C_, f == 0.f ? 0.f : 1.f / f, eps, blobs_[0]->gpu_data(),
                                                     blobs_[1]->gpu_data(), mean, inv_std);
  } else {
    float* var = gpu_var_.as<float>(C_);
    channel_stats<<<C_, gpu::kThreads>>>(N, C_, S, x, mean, var);
    CUDA_POST_LAUNCH();
    const float maf = p.get_float("moving_average_fraction");
    float* f = blobs_[2]->mutable_cpu_data();
    f[0] = f[0] * maf + 1.f;
    const int64_t m = N * S;
    const float bias_correction = m > 1 ? static_cast<float>(m) / (m - 1) : 1.f;
    update_running<<<gpu::blocks(C_), gpu::kThreads>>>(C_, maf, bias_correction, mean, var, blobs_[0]->mutable_gpu_data(),
                                                       blobs_[1]->mutable_gpu_data());
    CUDA_POST_LAUNCH();
    inv_std_kernel<<<gpu::blocks(C_), gpu::kThreads>>>(C_, eps, var, inv_std);
  }
  CUDA_POST_LAUNCH();
  const int64_t n = bottom[0]->count();
  normalize<<<gpu::blocks(n), gpu::kThreads>>>(n, C_, S, x, mean, inv_std, top[0]->mutable_gpu_data(),
                                               x_norm_.mutable_gpu_data());
  CUDA_POST_LAUNCH();
}

void BatchNormLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t N = bottom[0]->shape(0), S = bottom[0]->count() / (N * C_);
  const float* dy = top[0]->gpu_diff();
  bn_backward<<<C_, gpu::kThreads>>>(N, C_, S, global_, dy, x_norm_.gpu_data(), gpu_inv_std_.as<float>(C_),
                                     bottom[0]->mutable_gpu_diff());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
