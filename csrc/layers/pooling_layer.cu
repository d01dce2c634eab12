// layers/pooling_layer.cu: MAX and AVE pooling on the GPU with the CPU path's window rules (Caffe's
// clipping, padding counted in the AVE area, first strict maximum wins). The backward passes
// gather per input pixel over the windows that cover it, so they need no atomics.
#include <cfloat>

#include "layers/pooling_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
struct PoolShape {
  int H, W, PH, PW, kh, kw, sh, sw, ph, pw;
};

__global__ void max_pool_forward(int64_t n, PoolShape s, const float* x, float* y, int* argmax, float* mask_top) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ow = k % s.PW, oh = (k / s.PW) % s.PH;
    const int64_t pl = k / (static_cast<int64_t>(s.PW) * s.PH);
    const float* xp = x + pl * s.H * s.W;
    int hs = oh * s.sh - s.ph, ws = ow * s.sw - s.pw;
    const int he = min(hs + s.kh, s.H), we = min(ws + s.kw, s.W);
    hs = max(hs, 0);
    ws = max(ws, 0);
    float m = -FLT_MAX;
    int arg = -1;
    for (int h = hs; h < he; ++h)
      for (int w = ws; w < we; ++w)
        if (xp[h * s.W + w] > m) {
          m = xp[h * s.W + w];
          arg = h * s.W + w;
        }
    y[k] = m;
    argmax[k] = arg;
    if (mask_top) mask_top[k] = static_cast<float>(arg);
  }
}

__global__ void ave_pool_forward(int64_t n, PoolShape s, const float* x, float* y) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ow = k % s.PW, oh = (k / s.PW) % s.PH;
    const int64_t pl = k / (static_cast<int64_t>(s.PW) * s.PH);
    const float* xp = x + pl * s.H * s.W;
    int hs = oh * s.sh - s.ph, ws = ow * s.sw - s.pw;
    int he = min(hs + s.kh, s.H + s.ph), we = min(ws + s.kw, s.W + s.pw);
    const int area = (he - hs) * (we - ws);
    hs = max(hs, 0);
    ws = max(ws, 0);
    he = min(he, s.H);
    we = min(we, s.W);
    float sum = 0;
    for (int h = hs; h < he; ++h)
      for (int w = ws; w < we; ++w) sum += xp[h * s.W + w];
    y[k] = sum / area;
  }
}

// Output windows [p0, p1) along one axis whose span covers input position i.
__device__ inline void covering(int i, int pad, int k, int stride, int P, int& p0, int& p1) {
  p0 = (i + pad < k) ? 0 : (i + pad - k) / stride + 1;
  p1 = min((i + pad) / stride + 1, P);
}

__global__ void pool_backward(int64_t n, PoolShape s, bool is_max, const float* dy, const int* argmax, float* dx) {
  CUDA_KERNEL_LOOP(k, n) {
    const int w = k % s.W, h = (k / s.W) % s.H;
    const int64_t pl = k / (static_cast<int64_t>(s.W) * s.H);
    const float* dyp = dy + pl * s.PH * s.PW;
    int ph0, ph1, pw0, pw1;
    covering(h, s.ph, s.kh, s.sh, s.PH, ph0, ph1);
    covering(w, s.pw, s.kw, s.sw, s.PW, pw0, pw1);
    float g = 0;
    for (int oh = ph0; oh < ph1; ++oh)
      for (int ow = pw0; ow < pw1; ++ow) {
        if (is_max) {
          if (argmax[pl * s.PH * s.PW + oh * s.PW + ow] == h * s.W + w) g += dyp[oh * s.PW + ow];
        } else {
          const int hs = oh * s.sh - s.ph, ws = ow * s.sw - s.pw;
          const int he = min(hs + s.kh, s.H + s.ph), we = min(ws + s.kw, s.W + s.pw);
          g += dyp[oh * s.PW + ow] / ((he - hs) * (we - ws));
        }
      }
    dx[k] = g;
  }
}
}  // namespace

void PoolingLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const PoolShape s{H_, W_, PH_, PW_, kh_, kw_, sh_, sw_, ph_, pw_};
  const int64_t n = top[0]->count();
  const float* x = bottom[0]->gpu_data();
  float* y = top[0]->mutable_gpu_data();
  if (max_) {
    float* mask_top = top.size() == 2 ? top[1]->mutable_gpu_data() : nullptr;
    max_pool_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, s, x, y, gpu_argmax_.as<int>(n), mask_top);
  } else {
    ave_pool_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, s, x, y);
  }
  CUDA_POST_LAUNCH();
}

void PoolingLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const PoolShape s{H_, W_, PH_, PW_, kh_, kw_, sh_, sw_, ph_, pw_};
  const int64_t n = bottom[0]->count();
  const int* argmax = max_ ? gpu_argmax_.as<int>(top[0]->count()) : nullptr;
  const float* dy = top[0]->gpu_diff();
  pool_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, s, max_, dy, argmax, bottom[0]->mutable_gpu_diff());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
