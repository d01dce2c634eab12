// layers/reshape_layer.h: Reshape: a view of the bottom with a new shape (0 = copy a dim, -1 = infer); no data moves.
#pragma once

#include "layer.h"

namespace pycolorize {

class ReshapeLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Reshape"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
};

}  // namespace pycolorize
