// layers/conv/depthwise.cu: the GPU side of layers/conv/depthwise.h: one thread per output value (one block
// per kernel weight for the weight gradient).
#include "layers/conv/depthwise.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
// Gathered per output pixel: out(oy, ox) sums in(iy, ix) * w(ki, kj) over oy = iy*s - p + ki*d.
__global__ void depthwise_up(int64_t n, Depthwise d, const float* x, const float* w, float* y, bool accumulate) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ox = k % d.Wout, oy = (k / d.Wout) % d.Hout;
    const int64_t pl = k / (static_cast<int64_t>(d.Wout) * d.Hout);
    const float* xp = x + pl * d.Hin * d.Win;
    const float* wp = w + (pl % d.group) * d.kh * d.kw;
    float acc = 0;
    for (int ki = 0; ki < d.kh; ++ki) {
      const int ty = oy + d.ph - ki * d.dh;
      if (ty < 0 || ty % d.sh) continue;
      const int iy = ty / d.sh;
      if (iy >= d.Hin) continue;
      for (int kj = 0; kj < d.kw; ++kj) {
        const int tx = ox + d.pw - kj * d.dw;
        if (tx < 0 || tx % d.sw) continue;
        const int ix = tx / d.sw;
        if (ix >= d.Win) continue;
        acc += xp[iy * d.Win + ix] * wp[ki * d.kw + kj];
      }
    }
    y[k] = accumulate ? y[k] + acc : acc;
  }
}

// Gradient w.r.t. the small side: din(iy, ix) = sum over the kernel of dout(oy, ox) * w.
__global__ void depthwise_down(int64_t n, Depthwise d, const float* dy, const float* w, float* dx) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ix = k % d.Win, iy = (k / d.Win) % d.Hin;
    const int64_t pl = k / (static_cast<int64_t>(d.Win) * d.Hin);
    const float* dyp = dy + pl * d.Hout * d.Wout;
    const float* wp = w + (pl % d.group) * d.kh * d.kw;
    float acc = 0;
    for (int ki = 0; ki < d.kh; ++ki) {
      const int oy = iy * d.sh - d.ph + ki * d.dh;
      if (oy < 0 || oy >= d.Hout) continue;
      for (int kj = 0; kj < d.kw; ++kj) {
        const int ox = ix * d.sw - d.pw + kj * d.dw;
        if (ox >= 0 && ox < d.Wout) acc += dyp[oy * d.Wout + ox] * wp[ki * d.kw + kj];
      }
    }
    dx[k] = acc;
  }
}

// Weight gradient: one block per (group, ki, kj), summing in double over that group's planes.
__global__ void depthwise_weight_grad(int64_t planes, Depthwise d, const float* dy, const float* x, float* dw) {
  __shared__ double sh[gpu::kThreads];
  const int widx = blockIdx.x;
  const int gi = widx / (d.kh * d.kw), ki = (widx / d.kw) % d.kh, kj = widx % d.kw;
  const int64_t per_plane = static_cast<int64_t>(d.Hin) * d.Win;
  const int64_t nplanes = (planes - gi + d.group - 1) / d.group;
  double acc = 0;
  for (int64_t j = threadIdx.x; j < nplanes * per_plane; j += blockDim.x) {
    const int64_t pl = gi + (j / per_plane) * d.group;
    const int iy = static_cast<int>((j % per_plane) / d.Win), ix = static_cast<int>(j % d.Win);
    const int oy = iy * d.sh - d.ph + ki * d.dh, ox = ix * d.sw - d.pw + kj * d.dw;
    if (oy >= 0 && oy < d.Hout && ox >= 0 && ox < d.Wout)
      acc += static_cast<double>(dy[(pl * d.Hout + oy) * d.Wout + ox]) * x[pl * per_plane + iy * d.Win + ix];
  }
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = gpu::kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) dw[widx] += static_cast<float>(sh[0]);
}
}  // namespace

void depthwise_up_gpu(const Depthwise& d, int64_t planes, const float* x, const float* w, float* y, bool accumulate) {
  const int64_t n = planes * d.Hout * d.Wout;
  if (!n) return;
  depthwise_up<<<gpu::blocks(n), gpu::kThreads>>>(n, d, x, w, y, accumulate);
  CUDA_POST_LAUNCH();
}

void depthwise_backward_gpu(const Depthwise& d, int64_t planes, const float* dy, const float* x, const float* w,
                            float* dx, float* dw) {
  if (dw && planes) {
    depthwise_weight_grad<<<d.group * d.kh * d.kw, gpu::kThreads>>>(planes, d, dy, x, dw);
    CUDA_POST_LAUNCH();
  }
  const int64_t n = planes * d.Hin * d.Win;
  if (dx && n) {
    depthwise_down<<<gpu::blocks(n), gpu::kThreads>>>(n, d, dy, w, dx);
    CUDA_POST_LAUNCH();
  }
}

}  // namespace pycolorize
