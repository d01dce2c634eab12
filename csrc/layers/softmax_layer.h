// layers/softmax_layer.h: Softmax over one axis (default 1, the channels), at every other position.
#pragma once

#include "layer.h"

namespace pycolorize {

// y = softmax(x) over the middle axis of an (outer, C, inner) array; y may alias x.
void softmax_cpu(const float* x, float* y, int64_t outer, int C, int64_t inner);
// The same on device pointers (softmax_layer.cu; CUDA builds only).
void softmax_gpu(const float* x, float* y, int64_t outer, int C, int64_t inner);

class SoftmaxLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Softmax"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
