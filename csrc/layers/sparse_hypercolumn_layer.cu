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

__device__ inline HypercolumnTaps taps(const float* cent, int64_t r, const MapGeom& g) {
  return hypercolumn_taps(cent[2 * r], cent[2 * r + 1], g.oh, g.ow, g.s, g.H, g.W);
}

__global__ void hc_forward(int64_t n, int64_t P, MapGeom g, const float* cent, const float* F, float* out) {
  CUDA_KERNEL_LOOP(k, n) {
    const int c = k % g.C;
    const int64_t r = k / g.C;
    const HypercolumnTaps t = taps(cent, r, g);
    const float* q = F + ((r / P) * g.C + c) * g.H * g.W + t.y0 * g.W + t.x0;
    out[r * g.D + g.off + c] = g.m * hypercolumn_read(t, q, g.W);
  }
}

__global__ void hc_backward(int64_t n, int64_t P, MapGeom g, const float* cent, const float* dy, float* dF) {
  CUDA_KERNEL_LOOP(k, n) {
    const int c = k % g.C;
    const int64_t r = k / g.C;
    const HypercolumnTaps t = taps(cent, r, g);
    float* q = dF + ((r / P) * g.C + c) * g.H * g.W + t.y0 * g.W + t.x0;
    const float v = g.m * dy[r * g.D + g.off + c];
    atomicAdd(q, v * t.wy0 * t.wx0);
    atomicAdd(q + g.W, v * t.wy1 * t.wx0);
    atomicAdd(q + 1, v * t.wy0 * t.wx1);
    atomicAdd(q + g.W + 1, v * t.wy1 * t.wx1);
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
