// layers/conv_layer.cpp
#include "layers/conv_layer.h"

#include <algorithm>

namespace pycolorize {

void ConvolutionLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* x = bottom[i]->cpu_data();
    float* y = top[i]->mutable_cpu_data();
    const int N = bottom[i]->shape(0), step = images_per_gemm_cpu(N);
    for (int n = 0; n < N; n += step) gemm_pass_cpu(Pass::kColumns, x + n * in_dim, nullptr, y + n * out_dim, std::min(step, N - n));
    if (bias_)
      for (int n = 0; n < N; ++n) add_bias(y + n * out_dim, num_output_, top[i]->count(2));
  }
}

void ConvolutionLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* dy = top[i]->cpu_diff();
    const float* x = bottom[i]->cpu_data();
    const int N = bottom[i]->shape(0), step = images_per_gemm_cpu(N);
    for (int n = 0; n < N; n += step) {
      const int k = std::min(step, N - n);
      for (int j = n; j < n + k && bias_ && param_propagate_down(1); ++j)
        bias_gradient(dy + j * out_dim, num_output_, top[i]->count(2), blobs_[1]->mutable_cpu_diff());
      if (param_propagate_down(0)) gemm_pass_cpu(Pass::kWeightGrad, x + n * in_dim, dy + n * out_dim, blobs_[0]->mutable_cpu_diff(), k);
      if (propagate_down[i]) gemm_pass_cpu(Pass::kImage, nullptr, dy + n * out_dim, bottom[i]->mutable_cpu_diff() + n * in_dim, k);
    }
  }
}

REGISTER_LAYER("Convolution", ConvolutionLayer);

}  // namespace pycolorize
