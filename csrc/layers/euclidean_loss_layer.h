// layers/euclidean_loss_layer.h: EuclideanLoss: sum((a - b)^2) / (2 N), N = the first dim.
#pragma once

#include "layer.h"

namespace pycolorize {

class EuclideanLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "EuclideanLoss"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 2; }
  int exact_tops() const override { return 1; }
  bool is_loss() const override { return true; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  Blob diff_;
};

}  // namespace pycolorize
