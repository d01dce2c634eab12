// layers/conv_layer.cu: Convolution on the GPU: cuDNN by default, im2col + cuBLAS with engine: CAFFE.
#include "layers/conv_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void ConvolutionLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const float* w = blobs_[0]->gpu_data();
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int N = bottom[i]->shape(0);
    const float* x = bottom[i]->gpu_data();
    float* y = top[i]->mutable_gpu_data();
    if (use_cudnn()) {
      CudnnConv& c = cudnn_for(*bottom[i]);
      c.forward(x, w, y);
      if (bias_) c.add_bias(blobs_[1]->gpu_data(), false, y);
      continue;
    }
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    for (int n = 0; n < N; ++n) gemm_pass_gpu(Pass::kColumns, x + n * in_dim, nullptr, y + n * out_dim);
    if (bias_) add_bias_gpu(y, N, num_output_, top[i]->count(2));
  }
}

void ConvolutionLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int N = bottom[i]->shape(0);
    const float* dy = top[i]->gpu_diff();
    const float* x = bottom[i]->gpu_data();
    if (use_cudnn()) {
      CudnnConv& c = cudnn_for(*bottom[i]);
      if (bias_ && param_propagate_down(1)) c.bias_gradient(dy, false, blobs_[1]->mutable_gpu_diff());
      if (param_propagate_down(0)) c.backward_filter(x, dy, blobs_[0]->mutable_gpu_diff());
      if (propagate_down[i]) c.backward_data(dy, blobs_[0]->gpu_data(), bottom[i]->mutable_gpu_diff());
      continue;
    }
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    if (bias_ && param_propagate_down(1)) bias_gradient_gpu(dy, N, num_output_, top[i]->count(2), blobs_[1]->mutable_gpu_diff());
    for (int n = 0; n < N; ++n) {
      if (param_propagate_down(0)) gemm_pass_gpu(Pass::kWeightGrad, x + n * in_dim, dy + n * out_dim, blobs_[0]->mutable_gpu_diff());
      if (propagate_down[i]) gemm_pass_gpu(Pass::kImage, nullptr, dy + n * out_dim, bottom[i]->mutable_gpu_diff() + n * in_dim);
    }
  }
}

}  // namespace pycolorize
