// layers/inner_product_layer.h: fully connected: top (M, N) = bottom (M, K) * W^T + b, where
// M = count(0, axis), K = count(axis); W is (N, K), or (K, N) with transpose: true.
#pragma once

#include "layer.h"

namespace pycolorize {

class InnerProductLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "InnerProduct"; }
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  int M_ = 0, K_ = 0, N_ = 0;
  bool bias_ = true, transpose_ = false;
};

}  // namespace pycolorize
