// layers/input_layer.h: Input: tops whose data is set from outside; shapes from input_param.
#pragma once

#include "layer.h"

namespace pycolorize {

class InputLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Input"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 0; }
  int min_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
};

}  // namespace pycolorize
