// layers/softmax_loss_layer.h: SoftmaxWithLoss: softmax over `axis` (softmax_param) followed by the
// multinomial logistic loss of integer labels (shape: the logits without the softmax axis).
// Optional second top: the probabilities. loss_param sets ignore_label and the normaliser.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

// Caffe's loss normaliser (at least 1): FULL = outer * inner, VALID = `valid`, BATCH_SIZE = outer,
// NONE = 1; the legacy `normalize` flag means VALID (true) or BATCH_SIZE (false).
float loss_normalizer(const proto::Message& loss_param, int64_t outer, int64_t inner, double valid);

class SoftmaxWithLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SoftmaxWithLoss"; }
  int exact_bottoms() const override { return 2; }
  int min_tops() const override { return 1; }
  bool is_loss() const override { return true; }
  bool allow_force_backward(int bottom) const override { return bottom != 1; }  // no gradient for labels
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  float normalizer(int64_t valid) const;
  Blob prob_;
  int axis_ = 1;
  int64_t outer_ = 0, inner_ = 0;
  gpu::Buffer gpu_loss_, gpu_count_;  // per position, summed after the kernel
};

}  // namespace pycolorize
