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

// Element i of x times its mask factor (scale or 0), for elements [0, n).
PYC_HOST_DEVICE float dropout_apply(uint32_t word, float x, uint32_t threshold, float scale) {
  return word >= threshold ? x * scale : 0.f;
}

}  // namespace pycolorize
