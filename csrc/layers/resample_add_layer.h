// layers/resample_add_layer.h: ResampleAdd, a per-channel transposed convolution added in place.
// Bottoms (y, x), top y:  y(n, c) += D(x(n, c))  for every channel plane, where D is the
// single-channel Deconvolution that convolution_param describes (kernel, stride, pad, dilation;
// num_output 1 if given, group 1, no bias) with weights (1, 1, kh, kw), e.g. the bilinear filler.
// With bottom x alone, the top is D(x) per plane, of the size the Deconvolution gives.
// It is the deploy nets' Reshape {-1,1} -> Deconvolution -> Reshape {-1,C} upsampling and the
// Eltwise SUM after it, without their intermediate blobs; the projection pass (graph/net_optimize.cpp)
// writes it. The gradient w.r.t. y passes through; x and the kernel get theirs (layers/conv/depthwise.h).
#pragma once

#include "layer.h"
#include "layers/conv/depthwise.h"

namespace pycolorize {

class ResampleAddLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "ResampleAdd"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int min_bottoms() const override { return 1; }
  int max_bottoms() const override { return 2; }
  int exact_tops() const override { return 1; }

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS

 private:
  const Blob& source(const Blobs& bottom) const { return *bottom.back(); }  // x
  bool accumulate(const Blobs& bottom) const { return bottom.size() == 2; }
  Depthwise d_{};
};

}  // namespace pycolorize
