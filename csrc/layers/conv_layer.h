// layers/conv_layer.h: Convolution (2-D, with pad, stride, dilation, group, optional bias).
// Weights (num_output, C_in / group, kh, kw), bias (num_output); out = floor((H + 2p - d(k-1) - 1) / s) + 1.
#pragma once

#include "layers/base_conv_layer.h"

namespace pycolorize {

class ConvolutionLayer : public BaseConvolutionLayer {
 public:
  using BaseConvolutionLayer::BaseConvolutionLayer;
  const char* type() const override { return "Convolution"; }
  // The CPU's Winograd F(2x2, 3x3) for 3x3, stride 1 layers (layers/conv/winograd.h): 0 off, 1 where
  // it pays (the default; see winograd()), 2 wherever the geometry allows (tests).
  static void set_cpu_winograd(int mode);

 protected:
  bool reverse() const override { return false; }
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS

 private:
  bool winograd(int images) const;  // the CPU runs a call's passes over `images` by Winograd
};

}  // namespace pycolorize
