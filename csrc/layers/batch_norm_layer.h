// layers/batch_norm_layer.h: Caffe's BatchNorm (normalisation only; follow it with Scale).
// Blobs: 0 = mean sum, 1 = variance sum, 2 = the scalar factor; the statistics are blob/factor.
// TEST (or use_global_stats) normalises with them; TRAIN uses the batch and updates them.
#pragma once

#include "layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

class BatchNormLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "BatchNorm"; }
  int exact_bottoms() const override { return 1; }
  int exact_tops() const override { return 1; }
  bool frozen_params() const override { return true; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  void layer_setup(const Blobs& bottom, const Blobs& top) override;
  void forward_cpu(const Blobs& bottom, const Blobs& top) override;
  void backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) override;
  PYC_GPU_METHODS
  bool global_ = true;
  int C_ = 0;
  std::vector<float> mean_, inv_std_;  // per channel, from the last forward
  Blob x_norm_;                        // normalised output, kept for the TRAIN backward pass
  gpu::Buffer gpu_mean_, gpu_inv_std_;  // per channel, device side
  gpu::Buffer gpu_moments_, gpu_partial_;  // the reductions' per-channel means and per-block partial sums (double)
};

}  // namespace pycolorize
