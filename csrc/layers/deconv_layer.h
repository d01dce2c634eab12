// layers/deconv_layer.h: Deconvolution, the transpose of Convolution: out[s*i + t - p] += in[i] * w[t].
// Weights (C_in, num_output / group, kh, kw), bias (num_output); out = s(H - 1) + d(k - 1) + 1 - 2p.
#pragma once

#include "layers/base_conv_layer.h"

namespace pycolorize {

class DeconvolutionLayer : public BaseConvolutionLayer {
 public:
  using BaseConvolutionLayer::BaseConvolutionLayer;
  const char* type() const override { return "Deconvolution"; }

 protected:
  bool reverse() const override { return true; }
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
};

}  // namespace pycolorize
