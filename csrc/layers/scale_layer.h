// layers/scale_layer.h: top = bottom * scale (+ bias), the scale broadcast over the axes
// [axis, axis + num_axes) of the bottom. The scale is a learned blob, or the second bottom.
#pragma once

#include "layer.h"

namespace pycolorize {

class ScaleLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Scale"; }
  int min_bottoms() const override { return 1; }
  int max_bottoms() const override { return 2; }
  int exact_tops() const override { return 1; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  const Blob& scale_blob(const Blobs& bottom) const { return bottom.size() > 1 ? *bottom[1] : *blobs_[0]; }
  int axis_ = 1;
  int64_t outer_ = 0, dim_ = 0, inner_ = 0;
  int bias_index_ = -1;  // index of the bias in blobs_, or -1
  Blob saved_x_;         // the input, kept when running in place
};

}  // namespace pycolorize
