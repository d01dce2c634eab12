// layers/projection_layer.h: Projection, a 1x1 convolution of the channel concatenation of its
// bottoms that never builds the concatenation:
//     top = W [x_1; ...; x_n] + b = b + sum_i W_i x_i      (W_i: the C_i columns of W that meet x_i).
// Bottoms (N, C_i, H, W), alike in N, H and W; top (N, num_output, H, W). Its weights
// (num_output, sum C_i, 1, 1) and bias (num_output) are those the Convolution after a Concat
// (axis 1) would hold, so a Concat + 1x1 Convolution pair and a Projection load the same weights
// file. convolution_param gives num_output, bias_term and the fillers (kernel_size may be given and
// must be 1). The projection pass (graph/net_optimize.cpp) makes one per group of hypercolumn inputs,
// viewing a column slice of the literal h_fc1's weights (view_weight_columns).
#pragma once

#include <vector>

#include "layer.h"

namespace pycolorize {

class ProjectionLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Projection"; }
  void reshape(const Blobs& bottom, const Blobs& top) override;
  int min_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }

  // Uses the wider (num_output, C, 1, 1) `weights` (and `bias`, or none) in place of its own
  // blobs, without a copy: bottom i meets columns [first_columns[i], first_columns[i] + C_i).
  void view_weight_columns(std::shared_ptr<Blob> weights, const std::vector<int>& first_columns,
                           std::shared_ptr<Blob> bias);

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS

 private:
  // The GEMMs of forward and backward for both devices; Backend supplies gemm (row-major with
  // leading dimensions, as blas::gemm_ld), gemv, a vector of ones and the blobs' data on its device.
  template <class Backend>
  void run_forward(Backend& be, const Blobs& bottom, const Blobs& top);
  template <class Backend>
  void run_backward(Backend& be, const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom);

  int num_output_ = 0;
  bool bias_ = true;
  std::vector<int> width_;   // C_i
  std::vector<int> column_;  // the first column of W that meets each bottom
  int w_ld_ = 0;             // W's row stride
};

template <class Backend>
void ProjectionLayer::run_forward(Backend& be, const Blobs& bottom, const Blobs& top) {
  const int N = top[0]->shape(0), O = num_output_;
  const int P = top[0]->count(2);
  const float* w = be.data(*blobs_[0]);
  float* y = be.mutable_data(*top[0]);
  for (int n = 0; n < N; ++n) {
    float* yn = y + static_cast<int64_t>(n) * O * P;
    for (size_t i = 0; i < bottom.size(); ++i) {
      const int C = bottom[i]->shape(1);
      be.gemm(false, false, O, P, C, 1.f, w + column_[i], w_ld_, be.data(*bottom[i]) + static_cast<int64_t>(n) * C * P, P,
              i ? 1.f : 0.f, yn, P);
    }
    if (bias_) be.gemm(false, false, O, P, 1, 1.f, be.data(*blobs_[1]), 1, be.ones(P), P, 1.f, yn, P);
  }
}

template <class Backend>
void ProjectionLayer::run_backward(Backend& be, const Blobs& top, const std::vector<bool>& propagate_down,
                                   const Blobs& bottom) {
  const int N = top[0]->shape(0), O = num_output_;
  const int P = top[0]->count(2);
  const float* dy = be.diff(*top[0]);
  const float* w = be.data(*blobs_[0]);
  for (int n = 0; n < N; ++n) {
    const float* dyn = dy + static_cast<int64_t>(n) * O * P;
    if (bias_ && param_propagate_down(1)) be.gemv(false, O, P, 1.f, dyn, be.ones(P), 1.f, be.mutable_diff(*blobs_[1]));
    for (size_t i = 0; i < bottom.size(); ++i) {
      const int C = bottom[i]->shape(1);
      const int64_t off = static_cast<int64_t>(n) * C * P;
      if (param_propagate_down(0))
        be.gemm(false, true, O, C, P, 1.f, dyn, P, be.data(*bottom[i]) + off, P, 1.f,
                be.mutable_diff(*blobs_[0]) + column_[i], w_ld_);
      if (propagate_down[i])
        be.gemm(true, false, C, P, O, 1.f, w + column_[i], w_ld_, dyn, P, 0.f, be.mutable_diff(*bottom[i]) + off, P);
    }
  }
}

}  // namespace pycolorize
