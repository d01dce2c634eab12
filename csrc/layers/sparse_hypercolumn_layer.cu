// layers/sparse_hypercolumn_layer.cu: the GPU twin: one launch per feature bottom, a thread per
// (sample, channel) with the channel fastest (coalesced hypercolumn rows); the backward scatter
// uses atomicAdd, as the released layer does.
#include <algorithm>

#include "layers/sparse_hypercolumn_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
struct MapGeom {
  int C, H, W;
  float s, oh, ow, m;
  int64_t off, D;
};

__device__ inline void taps(const float* cent, int64_t r, const MapGeom& g, int64_t& y0, int64_t& x0, float& wy0,
                            float& wy1, float& wx0, float& wx1) {
  float ly = (cent[2 * r] - g.oh) / g.s, lx = (cent[2 * r + 1] - g.ow) / g.s;
  ly = fminf(fmaxf(ly, 0.f), static_cast<float>(g.H - 1.0001));
  lx = fminf(fmaxf(lx, 0.f), static_cast<float>(g.W - 1.0001));
  y0 = static_cast<int64_t>(ly);
  x0 = static_cast<int64_t>(lx);
  wy0 = static_cast<float>(y0 + 1) - ly;
  wy1 = ly - y0;
  wx0 = static_cast<float>(x0 + 1) - lx;
  wx1 = lx - x0;
}

__global__ void hc_forward(int64_t n, int64_t P, MapGeom g, const float* cent, const float* F, float* out) {
  CUDA_KERNEL_LOOP(k, n) {
    const int c = k % g.C;
    const int64_t r = k / g.C;
    int64_t y0, x0;
    float wy0, wy1, wx0, wx1;
    taps(cent, r, g, y0, x0, wy0, wy1, wx0, wx1);
    const float* q = F + ((r / P) * g.C + c) * g.H * g.W + y0 * g.W + x0;
    out[r * g.D + g.off + c] = g.m * (wy0 * (wx0 * q[0] + wx1 * q[1]) + wy1 * (wx0 * q[g.W] + wx1 * q[g.W + 1]));
  }
}

__global__ void hc_backward(int64_t n, int64_t P, MapGeom g, const float* cent, const float* dy, float* dF) {
  CUDA_KERNEL_LOOP(k, n) {
    const int c = k % g.C;
    const int64_t r = k / g.C;
    int64_t y0, x0;
    float wy0, wy1, wx0, wx1;
    taps(cent, r, g, y0, x0, wy0, wy1, wx0, wx1);
    float* q = dF + ((r / P) * g.C + c) * g.H * g.W + y0 * g.W + x0;
    const float v = g.m * dy[r * g.D + g.off + c];
    atomicAdd(q, v * wy0 * wx0);
    atomicAdd(q + g.W, v * wy1 * wx0);
    atomicAdd(q + 1, v * wy0 * wx1);
    atomicAdd(q + g.W + 1, v * wy1 * wx1);
  }
}

MapGeom geom(const Blob& f, size_t l, const std::vector<float>& s, const std::vector<float>& oh,
             const std::vector<float>& ow, const std::vector<float>& m, const std::vector<int64_t>& off, int64_t D) {
  return {f.shape(1), f.shape(2), f.shape(3), s[l], oh[l], ow[l], m[l], off[l], D};
}
}  // namespace

void SparseHypercolumnLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const float* cent = bottom[0]->gpu_data();
  float* out = top[0]->mutable_gpu_data();
  for (size_t l = 1; l < bottom.size(); ++l) {
    const MapGeom g = geom(*bottom[l], l - 1, scale_, offset_h_, offset_w_, mult_, channel_offset_, D_);
    const int64_t n = N_ * P_ * g.C;
    hc_forward<<<gpu::blocks(n), gpu::kThreads>>>(n, P_, g, cent, bottom[l]->gpu_data(), out);
    CUDA_POST_LAUNCH();
  }
}

void SparseHypercolumnLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  PYC_CHECK(!propagate_down[0], where(), ": cannot back-propagate into the centroids");
  const float* cent = bottom[0]->gpu_data();
  const float* dy = top[0]->gpu_diff();
  for (size_t l = 1; l < bottom.size(); ++l) {
    if (!propagate_down[l]) continue;
    const MapGeom g = geom(*bottom[l], l - 1, scale_, offset_h_, offset_w_, mult_, channel_offset_, D_);
    float* dF = bottom[l]->mutable_gpu_diff();
    gpu::set(bottom[l]->count(), 0.f, dF);
    const int64_t n = N_ * P_ * g.C;
    hc_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, P_, g, cent, dy, dF);
    CUDA_POST_LAUNCH();
  }
}

}  // namespace pycolorize
