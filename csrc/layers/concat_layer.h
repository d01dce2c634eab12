// layers/concat_layer.h: Concat: bottoms joined along an axis, in bottom order; all other dims must match.
#pragma once

#include "layer.h"

namespace pycolorize {

class ConcatLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Concat"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int min_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  int axis_ = 1;
};

}  // namespace pycolorize
