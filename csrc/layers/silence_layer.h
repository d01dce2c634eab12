// layers/silence_layer.h: Silence: consumes bottoms so they are not net outputs; produces nothing.
#pragma once

#include "layer.h"

namespace pycolorize {

class SilenceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Silence"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int min_bottoms() const override { return 1; }
  int exact_tops() const override { return 0; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
