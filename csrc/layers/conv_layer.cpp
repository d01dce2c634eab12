// layers/conv_layer.cpp
#include "layers/conv_layer.h"

#include <algorithm>
#include <vector>

#include "layers/conv/winograd.h"

namespace pycolorize {

namespace {
int g_winograd = 1;

// The transformed weights of the layer running now on this thread (at least n floats).
float* winograd_buffer(int64_t n) {
  thread_local std::vector<float> u;
  if (static_cast<int64_t>(u.size()) < n) u.resize(static_cast<size_t>(n));
  return u.data();
}
}  // namespace

void ConvolutionLayer::set_cpu_winograd(int mode) { g_winograd = mode; }

bool ConvolutionLayer::winograd(int images) const {
  const bool geometry = kh_ == 3 && kw_ == 3 && sh_ == 1 && sw_ == 1 && dh_ == 1 && dw_ == 1 && group_ == 1 &&
                        ph_ <= 2 && pw_ <= 2;  // the input gradient's convolution pads by 2 - pad
  // Where it pays on the CPU (measured on VGG-16's layers, 2 cores): GEMMs of at least 128 channels
  // on both sides and 512 tiles (VGG-16's conv2_2 to conv4_3 at 224x224, batch 4); with fewer,
  // the transforms cost more than the multiplications save (conv1_2, conv2_1 and conv5 broke even or lost).
  const int64_t tiles = static_cast<int64_t>(images) * ((geom_.out_h + 1) / 2) * ((geom_.out_w + 1) / 2);
  return geometry && (g_winograd == 2 || (g_winograd == 1 && std::min(im_channels_, col_channels_) >= 128 && tiles >= 512));
}

void ConvolutionLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const bool wino = winograd(bottom[0]->shape(0));
  float* U = wino ? winograd_buffer(16LL * num_output_ * im_channels_) : nullptr;
  if (wino) winograd_weights(blobs_[0]->cpu_data(), num_output_, im_channels_, false, U);
  begin_cpu_passes(images_per_gemm_cpu(bottom[0]->shape(0)), !wino, false);
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* x = bottom[i]->cpu_data();
    float* y = top[i]->mutable_cpu_data();
    const int N = bottom[i]->shape(0), step = images_per_gemm_cpu(N);
    if (wino) {
      count_cpu_path(kWinograd);
      winograd_conv({N, im_channels_, geom_.height, geom_.width, num_output_, ph_, pw_}, x, U, y, cpu_band_floats());
    } else {
      for (int n = 0; n < N; n += step) gemm_pass_cpu(Pass::kColumns, x + n * in_dim, nullptr, y + n * out_dim, std::min(step, N - n));
    }
    if (bias_)
      for (int n = 0; n < N; ++n) add_bias(y + n * out_dim, num_output_, top[i]->count(2));
  }
  end_cpu_passes();
}

void ConvolutionLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  // Winograd computes the input gradient as the convolution of the output gradient by the
  // weights turned 180 degrees with input and output channels swapped, padded by 2 - pad, and the
  // weight gradient by its own transforms (winograd_weight_grad).
  const bool any_down = std::find(propagate_down.begin(), propagate_down.end(), true) != propagate_down.end();
  const bool wino = winograd(bottom[0]->shape(0)), weight_grad = param_propagate_down(0);
  float* U = wino && any_down ? winograd_buffer(16LL * num_output_ * im_channels_) : nullptr;
  if (U) winograd_weights(blobs_[0]->cpu_data(), im_channels_, num_output_, true, U);
  begin_cpu_passes(images_per_gemm_cpu(bottom[0]->shape(0)), any_down && !wino, weight_grad && !wino);
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* dy = top[i]->cpu_diff();
    const float* x = bottom[i]->cpu_data();
    const int N = bottom[i]->shape(0), step = images_per_gemm_cpu(N);
    for (int n = 0; n < N; n += step) {
      const int k = std::min(step, N - n);
      for (int j = n; j < n + k && bias_ && param_propagate_down(1); ++j)
        bias_gradient(dy + j * out_dim, num_output_, top[i]->count(2), blobs_[1]->mutable_cpu_diff());
      if (wino) continue;
      if (weight_grad) gemm_pass_cpu(Pass::kWeightGrad, x + n * in_dim, dy + n * out_dim, blobs_[0]->mutable_cpu_diff(), k);
      if (propagate_down[i]) gemm_pass_cpu(Pass::kImage, nullptr, dy + n * out_dim, bottom[i]->mutable_cpu_diff() + n * in_dim, k);
    }
    if (!wino) continue;
    if (weight_grad) {
      count_cpu_path(kWinograd);
      winograd_weight_grad({N, im_channels_, geom_.height, geom_.width, num_output_, ph_, pw_}, x, dy,
                           blobs_[0]->mutable_cpu_diff(), cpu_band_floats());
    }
    if (propagate_down[i]) {
      count_cpu_path(kWinograd);
      winograd_conv({N, num_output_, geom_.out_h, geom_.out_w, im_channels_, 2 - ph_, 2 - pw_}, dy, U,
                    bottom[i]->mutable_cpu_diff(), cpu_band_floats());
    }
  }
  end_cpu_passes();
}

REGISTER_LAYER("Convolution", ConvolutionLayer);

}  // namespace pycolorize
