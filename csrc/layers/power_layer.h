// layers/power_layer.h: Power: y = (shift + scale * x) ^ power.
#pragma once

#include "layer.h"

namespace pycolorize {

class PowerLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Power"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
