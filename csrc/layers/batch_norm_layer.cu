// layers/batch_norm_layer.cu: BatchNorm on the GPU. The per-channel sums (x and x^2 forward, dy
// and dy*y backward) are reduced in double, as the CPU path does, in two deterministic steps: G
// blocks per channel each sum a slice of its rows into a partial, then one thread per channel adds
// the G partials in order. Every pass walks contiguous rows (one (n, c) plane each), so no thread
// divides an index. The running statistics are updated on the device.
#include <algorithm>

#include "layers/batch_norm_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
constexpr int kT = 256;  // threads per block in every kernel here

// Blocks that share one channel's sums: about 2048 blocks in all, each with at least a block's
// width of positions per row.
int splits(int C, int64_t S) {
  const int64_t want = (2048 + C - 1) / C, most = (S + kT - 1) / kT;
  return static_cast<int>(std::max<int64_t>(1, std::min(want, most)));
}

// Blocks along a row for the element-wise passes: about four elements per thread.
int row_blocks(int64_t S) { return static_cast<int>(std::min<int64_t>(65535, std::max<int64_t>(1, (S + 4 * kT - 1) / (4 * kT)))); }

__device__ double warp_sum(double v) {
  for (int k = 16; k > 0; k >>= 1) v += __shfl_down_sync(0xffffffffu, v, k);
  return v;
}

// Block (c, g) of grid (C, G): over positions g*kT + t, g*kT + t + G*kT, ... of the N rows of
// channel c, out[(c*G + g)*2] = sum a and out[... + 1] = sum a*b (a*a without b).
__global__ void partial_sums(int64_t N, int C, int64_t S, const float* a, const float* b, double* out) {
  const int c = blockIdx.x, g = blockIdx.y, G = gridDim.y;
  double s1 = 0, s2 = 0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t row = (n * C + c) * S;
    for (int64_t i = static_cast<int64_t>(g) * kT + threadIdx.x; i < S; i += static_cast<int64_t>(G) * kT) {
      const double v = a[row + i];
      s1 += v;
      s2 += v * (b ? static_cast<double>(b[row + i]) : v);
    }
  }
  __shared__ double part[2][kT / 32];
  s1 = warp_sum(s1);
  s2 = warp_sum(s2);
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 == 0) {
    part[0][warp] = s1;
    part[1][warp] = s2;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kT / 32; ++w) {
      s1 += part[0][w];
      s2 += part[1][w];
    }
    out[(static_cast<int64_t>(c) * G + g) * 2] = s1;
    out[(static_cast<int64_t>(c) * G + g) * 2 + 1] = s2;
  }
}

// Per channel, the means of the two sums over m elements: moments[2c] = E[a], moments[2c+1] = E[ab].
__global__ void channel_means(int C, int G, double m, const double* partial, double* moments) {
  CUDA_KERNEL_LOOP(c, C) {
    double s1 = 0, s2 = 0;
    for (int g = 0; g < G; ++g) {
      s1 += partial[(c * G + g) * 2];
      s2 += partial[(c * G + g) * 2 + 1];
    }
    moments[2 * c] = s1 / m;
    moments[2 * c + 1] = s2 / m;
  }
}

// Batch statistics: mean, 1/std and Caffe's running sums (unbiased variance).
__global__ void batch_stats(int C, float eps, float maf, float bias_correction, const double* moments, float* mean,
                            float* inv_std, float* ms, float* vs) {
  CUDA_KERNEL_LOOP(c, C) {
    const double mu = moments[2 * c];
    const float var = static_cast<float>(fmax(moments[2 * c + 1] - mu * mu, 0.0));
    mean[c] = static_cast<float>(mu);
    inv_std[c] = 1.f / sqrtf(var + eps);
    ms[c] = mean[c] + maf * ms[c];
    vs[c] = bias_correction * var + maf * vs[c];
  }
}

__global__ void global_stats(int C, float scale, float eps, const float* ms, const float* vs, float* mean, float* inv_std) {
  CUDA_KERNEL_LOOP(c, C) {
    mean[c] = scale * ms[c];
    inv_std[c] = 1.f / sqrtf(scale * vs[c] + eps);
  }
}

// Grid (N*C rows, blocks along a row).
__global__ void normalize(int C, int64_t S, const float* x, const float* mean, const float* inv_std, float* y, float* xn) {
  const int64_t row = blockIdx.x;
  const int c = static_cast<int>(row % C);
  const float mu = mean[c], is = inv_std[c];
  for (int64_t i = static_cast<int64_t>(blockIdx.y) * kT + threadIdx.x; i < S; i += static_cast<int64_t>(gridDim.y) * kT) {
    const float v = (x[row * S + i] - mu) * is;
    y[row * S + i] = v;
    xn[row * S + i] = v;
  }
}

// dx = (dy - mean(dy) - y * mean(dy * y)) / std per channel; with global statistics the means are 0
// (moments null).
__global__ void bn_backward(int C, int64_t S, const float* dy, const float* y, const double* moments, const float* inv_std,
                            float* dx) {
  const int64_t row = blockIdx.x;
  const int c = static_cast<int>(row % C);
  const double mdy = moments ? moments[2 * c] : 0.0, mdyy = moments ? moments[2 * c + 1] : 0.0;
  const double is = inv_std[c];
  for (int64_t i = static_cast<int64_t>(blockIdx.y) * kT + threadIdx.x; i < S; i += static_cast<int64_t>(gridDim.y) * kT) {
    const int64_t k = row * S + i;
    dx[k] = static_cast<float>((dy[k] - mdy - y[k] * mdyy) * is);
  }
}
}  // namespace

// The per-channel means of a (and a*b, or a*a) into moments (2C doubles).
static void channel_moments(int64_t N, int C, int64_t S, const float* a, const float* b, gpu::Buffer& partial,
                            double* moments) {
  const int G = splits(C, S);
  double* p = partial.as<double>(static_cast<int64_t>(C) * G * 2);
  partial_sums<<<dim3(C, G), kT>>>(N, C, S, a, b, p);
  CUDA_POST_LAUNCH();
  channel_means<<<gpu::blocks(C), gpu::kThreads>>>(C, G, static_cast<double>(N * S), p, moments);
  CUDA_POST_LAUNCH();
}

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
    double* moments = gpu_moments_.as<double>(2 * C_);
    channel_moments(N, C_, S, x, nullptr, gpu_partial_, moments);
    const float maf = p.get_float("moving_average_fraction");
    float* f = blobs_[2]->mutable_cpu_data();
    f[0] = f[0] * maf + 1.f;
    const int64_t m = N * S;
    const float bias_correction = m > 1 ? static_cast<float>(m) / (m - 1) : 1.f;
    batch_stats<<<gpu::blocks(C_), gpu::kThreads>>>(C_, eps, maf, bias_correction, moments, mean, inv_std,
                                                    blobs_[0]->mutable_gpu_data(), blobs_[1]->mutable_gpu_data());
  }
  CUDA_POST_LAUNCH();
  if (N * C_ == 0 || S == 0) return;
  normalize<<<dim3(static_cast<unsigned>(N * C_), row_blocks(S)), kT>>>(C_, S, x, mean, inv_std, top[0]->mutable_gpu_data(),
                                                                       x_norm_.mutable_gpu_data());
  CUDA_POST_LAUNCH();
}

void BatchNormLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t N = bottom[0]->shape(0), S = bottom[0]->count() / (N * C_);
  if (N * C_ == 0 || S == 0) return;
  const float* dy = top[0]->gpu_diff();
  const float* y = x_norm_.gpu_data();
  double* moments = nullptr;
  if (!global_) {
    moments = gpu_moments_.as<double>(2 * C_);
    channel_moments(N, C_, S, dy, y, gpu_partial_, moments);
  }
  bn_backward<<<dim3(static_cast<unsigned>(N * C_), row_blocks(S)), kT>>>(C_, S, dy, y, moments,
                                                                         gpu_inv_std_.as<float>(C_), bottom[0]->mutable_gpu_diff());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
