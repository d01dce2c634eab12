// layers/deconv_layer.cu: Deconvolution on the GPU, the transpose of conv_layer.cu: its forward is
// cuDNN's backward-data, its backward-data is cuDNN's forward. Depthwise layers (the deploy net's
// bilinear upsamplers) run direct kernels unless engine: CUDNN.
#include "layers/deconv_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void DeconvolutionLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int N = bottom[i]->shape(0);
    float* y = top[i]->mutable_gpu_data();
    if (use_cudnn()) {
      CudnnConv& c = cudnn_for(*bottom[i]);
      c.backward_data(bottom[i]->gpu_data(), blobs_[0]->gpu_data(), y);
      if (bias_) c.add_bias(blobs_[1]->gpu_data(), true, y);
      continue;
    }
    if (depthwise()) {
      depthwise_up_gpu(depthwise_geometry(), bottom[i]->count(0, 2), bottom[i]->gpu_data(), blobs_[0]->gpu_data(), y, false);
    } else {
      const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
      const float* x = bottom[i]->gpu_data();
      for (int n = 0; n < N; ++n) gemm_pass_gpu(Pass::kImage, nullptr, x + n * in_dim, y + n * out_dim);
    }
    if (bias_) add_bias_gpu(y, N, num_output_, top[i]->count(2));
  }
}

void DeconvolutionLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int N = bottom[i]->shape(0);
    const float* dy = top[i]->gpu_diff();
    if (use_cudnn()) {
      CudnnConv& c = cudnn_for(*bottom[i]);
      if (bias_ && param_propagate_down(1)) c.bias_gradient(dy, true, blobs_[1]->mutable_gpu_diff());
      if (param_propagate_down(0)) c.backward_filter(dy, bottom[i]->gpu_data(), blobs_[0]->mutable_gpu_diff());
      if (propagate_down[i]) c.forward(dy, blobs_[0]->gpu_data(), bottom[i]->mutable_gpu_diff());
      continue;
    }
    if (bias_ && param_propagate_down(1)) bias_gradient_gpu(dy, N, num_output_, top[i]->count(2), blobs_[1]->mutable_gpu_diff());
    if (depthwise()) {
      depthwise_backward_gpu(depthwise_geometry(), bottom[i]->count(0, 2), dy, bottom[i]->gpu_data(), blobs_[0]->gpu_data(),
                             propagate_down[i] ? bottom[i]->mutable_gpu_diff() : nullptr,
                             param_propagate_down(0) ? blobs_[0]->mutable_gpu_diff() : nullptr);
      continue;
    }
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* x = bottom[i]->gpu_data();
    for (int n = 0; n < N; ++n) {
      if (param_propagate_down(0)) gemm_pass_gpu(Pass::kWeightGrad, dy + n * out_dim, x + n * in_dim, blobs_[0]->mutable_gpu_diff());
      if (propagate_down[i]) gemm_pass_gpu(Pass::kColumns, dy + n * out_dim, nullptr, bottom[i]->mutable_gpu_diff() + n * in_dim);
    }
  }
}

}  // namespace pycolorize
