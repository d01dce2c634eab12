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
  int64_t offset(int64_t n) const;  // this rank's first element in the global batch
  uint64_t seed_ = 0;
};

// Block b of y = x * mask * scale over the n elements that start at element `offset` of the
// global batch (data-parallel training: offset = rank * n, parallel/parallel.h; 0 in a single
// process): global Philox block offset / 4 + b, its elements that fall on this rank. Element g of
// the global batch is kept when word g % 4 of block g / 4 reaches the threshold, whatever the
// number of ranks. For the CPU loop and the kernel alike; x and y may be the same array.
PYC_HOST_DEVICE int64_t dropout_blocks(int64_t n, int64_t offset) { return (offset % 4 + n + 3) / 4; }
PYC_HOST_DEVICE void dropout_block(int64_t b, int64_t n, int64_t offset, const float* x, float* y, uint64_t seed,
                                   uint32_t threshold, float scale) {
  const int64_t g = offset / 4 + b;
  const Philox4 r = philox_block(seed, g);
  for (int j = 0; j < 4; ++j) {
    const int64_t i = g * 4 + j - offset;
    if (i >= 0 && i < n) y[i] = r.w[j] >= threshold ? x[i] * scale : 0.f;
  }
}

}  // namespace pycolorize
