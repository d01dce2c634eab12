// layers/deconv_layer.cpp
#include "layers/deconv_layer.h"

#include "util/blas.h"

namespace pycolorize {

void DeconvolutionLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    if (depthwise()) {
      depthwise_up_cpu(depthwise_geometry(), bottom[i]->count(0, 2), bottom[i]->cpu_data(), blobs_[0]->cpu_data(),
                       top[i]->mutable_cpu_data(), false);
    } else {
      const float* x = bottom[i]->cpu_data();
      float* y = top[i]->mutable_cpu_data();
      begin_cpu_passes(1, true, false);
      for (int n = 0; n < bottom[i]->shape(0); ++n) gemm_pass_cpu(Pass::kImage, nullptr, x + n * in_dim, y + n * out_dim);
      end_cpu_passes();
    }
    if (bias_) {
      float* y = top[i]->mutable_cpu_data();
      for (int n = 0; n < bottom[i]->shape(0); ++n) add_bias(y + n * out_dim, num_output_, top[i]->count(2));
    }
  }
}

void DeconvolutionLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* dy = top[i]->cpu_diff();
    if (bias_ && param_propagate_down(1))
      for (int n = 0; n < bottom[i]->shape(0); ++n)
        bias_gradient(dy + n * out_dim, num_output_, top[i]->count(2), blobs_[1]->mutable_cpu_diff());
    if (depthwise()) {
      depthwise_backward_cpu(depthwise_geometry(), bottom[i]->count(0, 2), dy, bottom[i]->cpu_data(), blobs_[0]->cpu_data(),
                             propagate_down[i] ? bottom[i]->mutable_cpu_diff() : nullptr,
                             param_propagate_down(0) ? blobs_[0]->mutable_cpu_diff() : nullptr);
      continue;
    }
    const float* x = bottom[i]->cpu_data();
    begin_cpu_passes(1, propagate_down[i], param_propagate_down(0));
    for (int n = 0; n < bottom[i]->shape(0); ++n) {
      if (param_propagate_down(0)) gemm_pass_cpu(Pass::kWeightGrad, dy + n * out_dim, x + n * in_dim, blobs_[0]->mutable_cpu_diff());
      if (propagate_down[i]) gemm_pass_cpu(Pass::kColumns, dy + n * out_dim, nullptr, bottom[i]->mutable_cpu_diff() + n * in_dim);
    }
    end_cpu_passes();
  }
}

REGISTER_LAYER("Deconvolution", DeconvolutionLayer);

}  // namespace pycolorize
