// layers/slice_layer.h: Slice: the bottom cut along an axis at slice_point (or into equal parts).
#pragma once

#include "layer.h"

namespace pycolorize {

class SliceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Slice"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int min_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  int axis_ = 1;
  std::vector<int> points_;
};

}  // namespace pycolorize
