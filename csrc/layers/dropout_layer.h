// layers/dropout_layer.h: Dropout: in TRAIN keep each value with probability 1 - r and scale it by 1/(1 - r); identity in TEST.
#pragma once

#include "layer.h"
#include "util/philox.h"

namespace pycolorize {

class DropoutLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Dropout"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }
  uint64_t seed() const { return seed_; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  // The mask is not stored: each forward draws one 64-bit seed from the runtime generator, and
  // element i is kept when word i % 4 of Philox block i / 4 under that seed reaches threshold().
  // Both devices (and the backward pass) recompute the same mask from the seed, so the GPU needs no
  // host work or upload per step. Caffe draws a uniform uint per element instead (curand on the
  // GPU, a different stream on the CPU); the mask distribution is the same.
  void new_seed();
  uint32_t threshold() const;
  float scale() const;
  uint64_t seed_ = 0;
};

// Block b (elements 4b .. 4b+3, those below n) of y = x * mask * scale, for the CPU loop and the
// kernel alike; x and y may be the same array.
PYC_HOST_DEVICE void dropout_block(int64_t b, int64_t n, const float* x, float* y, uint64_t seed, uint32_t threshold,
                                   float scale) {
  const Philox4 r = philox_block(seed, b);
  for (int j = 0; j < 4 && b * 4 + j < n; ++j) y[b * 4 + j] = r.w[j] >= threshold ? x[b * 4 + j] * scale : 0.f;
}

}  // namespace pycolorize
