// layers/split_layer.h: Split: several tops sharing the bottom's data; backward sums their diffs. Inserted by the Net for fan-out.
#pragma once

#include "layer.h"

namespace pycolorize {

class SplitLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Split"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int min_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
