// layers/relu_layer.h: ReLU: y = max(x, 0) + negative_slope * min(x, 0); works in place.
#pragma once

#include "layer.h"

namespace pycolorize {

class ReLULayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "ReLU"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
