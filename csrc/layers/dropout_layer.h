// layers/dropout_layer.h: Dropout: in TRAIN keep each value with probability 1 - r and scale it by 1/(1 - r); identity in TEST.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

class DropoutLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Dropout"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  // Draws mask_ (1 = keep) from the runtime generator and returns the scale 1 / (1 - ratio); the
  // GPU path uploads the same mask, so both devices drop the same units for the same seed.
  float draw_mask(int64_t n);
  std::vector<uint8_t> mask_;
  gpu::Buffer gpu_mask_;  // the same mask as scale-or-zero floats, uploaded for the GPU
};

}  // namespace pycolorize
