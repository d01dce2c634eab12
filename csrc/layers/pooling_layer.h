// layers/pooling_layer.h: MAX and AVE pooling with Caffe's exact output size (ceil rounding,
// minus one when the last window would start inside the padding) and AVE divisor (the window
// clipped to the padded extent). MAX may output its argmax indices as a second top.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

class PoolingLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Pooling"; }
  int exact_bottoms() const override { return 1; }
  int min_tops() const override { return 1; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  bool max_ = true, global_ = false;
  int kh_ = 0, kw_ = 0, sh_ = 1, sw_ = 1, ph_ = 0, pw_ = 0;
  int H_ = 0, W_ = 0, PH_ = 0, PW_ = 0;
  std::vector<int> argmax_;  // MAX: index h * W + w of the winner in its plane
  gpu::Buffer gpu_argmax_;
};

}  // namespace pycolorize
