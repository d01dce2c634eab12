// layers/softmax_kld_loss_layer.h: SoftmaxKLDLoss, the authors' loss (Larsson et al. 2016; layer
// by Ayan Chakrabarti in gustavla/autocolorize).
//
// Bottoms: logits x (outer, K, inner) with K along softmax_param.axis, target histograms q of the
// same shape, and an optional mask m of outer * inner values (one per position). With p = softmax(x):
//   loss = -sum_{n,k} m_n q_nk (log max(p_nk, FLT_MIN) - log max(q_nk, FLT_MIN)) / normaliser
// (CROSS_ENTROPY drops the log q term) and dloss/dx = m_n (p_n - q_n) * loss_weight / normaliser,
// which assumes each target sums to 1. Normaliser (loss_param.normalization): FULL = outer * inner,
// VALID = sum |m| (outer * inner without a mask), BATCH_SIZE = outer, NONE = 1; at least 1.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

class SoftmaxKLDLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SoftmaxKLDLoss"; }
  int min_bottoms() const override { return 2; }
  int max_bottoms() const override { return 3; }
  int exact_tops() const override { return 1; }
  bool is_loss() const override { return true; }
  bool allow_force_backward(int bottom) const override { return bottom == 0; }  // not into targets or mask
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  float normalizer(const Blobs& bottom, double mask_sum) const;
  Blob prob_;
  int axis_ = 1;
  int64_t outer_ = 0, inner_ = 0;
  bool cross_entropy_ = false;
  float norm_ = 1.f;  // the forward pass's normaliser, reused by backward
  gpu::Buffer gpu_terms_;
};

}  // namespace pycolorize
