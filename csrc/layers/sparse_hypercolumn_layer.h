// layers/sparse_hypercolumn_layer.h: SparseHypercolumnExtractor, the authors' layer (Larsson et
// al. 2016, gustavla/autocolorize): hypercolumns sampled at P locations per image.
//
// Bottoms: centroids (N, P, 2) holding (y, x) in the pixel frame of the input image, then L
// feature maps (N, C_l, H_l, W_l). Top: (N*P, sum C_l), row n*P + p, the layers' channels
// concatenated in bottom order. For layer l with scale s, offsets (oh, ow) and factor m, a sample
// at (y, x) reads the map at ly = (y - oh) / s, lx = (x - ow) / s, clamped to [0, H - 1.0001] x
// [0, W - 1.0001] (edges replicate), by bilinear interpolation, times m. The backward pass zeroes
// the feature diffs and scatters m * top_diff * weight into the 4 neighbours (atomics on the GPU).
// The paper's text speaks of locks; the released code uses atomics, as here.
#pragma once

#include <cmath>

#include "layer.h"

namespace pycolorize {

// Bilinear taps of one sample in one map, computed exactly as the released layer does (float32),
// for the CPU loops and the CUDA kernels alike.
struct HypercolumnTaps {
  int64_t y0, x0;
  float wy0, wy1, wx0, wx1;
};
//
// The released layer clamps to H - 1.0001 in float32 so that floor(ly) + 1 stays inside the map.
// Above 2048 rows (or columns) float32 cannot hold that margin: H - 1.0001 rounds to H - 1, the
// second tap (floor + 1) lands one row past the map, and the backward scatter writes outside the plane. So the
// tap index is also capped at H - 2; where the clamp did not round (every map up to 2048) this
// changes nothing, and at ly = H - 1 exactly it reads the last row with weight 1, as intended.
PYC_HOST_DEVICE HypercolumnTaps hypercolumn_taps(float y, float x, float oh, float ow, float s, int H, int W) {
  float ly = (y - oh) / s, lx = (x - ow) / s;
  ly = fminf(fmaxf(ly, 0.f), static_cast<float>(H - 1.0001));
  lx = fminf(fmaxf(lx, 0.f), static_cast<float>(W - 1.0001));
  int64_t y0 = static_cast<int64_t>(ly), x0 = static_cast<int64_t>(lx);
  if (y0 > H - 2) y0 = H - 2;
  if (x0 > W - 2) x0 = W - 2;
  return {y0, x0, static_cast<float>(y0 + 1) - ly, ly - y0, static_cast<float>(x0 + 1) - lx, lx - x0};
}
// The map interpolated at the taps; q points at (y0, x0) of one channel, whose rows are W apart.
PYC_HOST_DEVICE float hypercolumn_read(const HypercolumnTaps& t, const float* q, int W) {
  return t.wy0 * (t.wx0 * q[0] + t.wx1 * q[1]) + t.wy1 * (t.wx0 * q[W] + t.wx1 * q[W + 1]);
}

class SparseHypercolumnLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SparseHypercolumnExtractor"; }
  int min_bottoms() const override { return 2; }
  int exact_tops() const override { return 1; }
  bool allow_force_backward(int bottom) const override { return bottom != 0; }  // never into the centroids
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  std::vector<float> scale_, offset_h_, offset_w_, mult_;  // one per feature bottom
  std::vector<int64_t> channel_offset_;                    // first column of each feature bottom
  int64_t N_ = 0, P_ = 0, D_ = 0;
};

}  // namespace pycolorize
