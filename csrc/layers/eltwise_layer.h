// layers/eltwise_layer.h: Eltwise: element-wise SUM (with coefficients), PROD or MAX of bottoms of one shape.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

class EltwiseLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Eltwise"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int min_bottoms() const override { return 2; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  std::string op_;
  std::vector<float> coeffs_;
  std::vector<int> argmax_;
  gpu::Buffer gpu_argmax_;
};

}  // namespace pycolorize
