// layers/softmax_loss_layer.cpp
#include "layers/softmax_loss_layer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "layers/softmax_layer.h"
#include "util/blas.h"

namespace pycolorize {

void SoftmaxWithLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
  axis_ = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  outer_ = bottom[0]->count(0, axis_);
  inner_ = bottom[0]->count(axis_ + 1);
  PYC_CHECK(outer_ * inner_ == bottom[1]->count(), where(), ": ", bottom[1]->count(), " labels (", bottom[1]->shape_string(),
            ") for logits ", bottom[0]->shape_string(), " (need ", outer_ * inner_, ", one per position along axis ", axis_, ")");
  PYC_CHECK(top.size() <= 2, where(), ": at most two tops (loss, probabilities)");
  top[0]->reshape({});
  prob_.reshape_like(*bottom[0]);
  if (top.size() > 1) top[1]->reshape_like(*bottom[0]);
}

float loss_normalizer(const proto::Message& lp, int64_t outer, int64_t inner, double valid) {
  std::string mode = lp.get_string("normalization");
  if (lp.has("normalize")) mode = lp.get_bool("normalize") ? "VALID" : "BATCH_SIZE";
  double n = 1;
  if (mode == "FULL") n = static_cast<double>(outer * inner);
  else if (mode == "VALID") n = valid;
  else if (mode == "BATCH_SIZE") n = static_cast<double>(outer);
  return static_cast<float>(std::max(1.0, n));
}

float SoftmaxWithLossLayer::normalizer(int64_t valid) const {
  return loss_normalizer(param_.msg("loss_param"), outer_, inner_, static_cast<double>(valid));
}

void SoftmaxWithLossLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int C = bottom[0]->shape(axis_);
  float* p = prob_.mutable_cpu_data();
  softmax_cpu(bottom[0]->cpu_data(), p, outer_, C, inner_);
  const proto::Message& lp = param_.msg("loss_param");
  const bool has_ignore = lp.has("ignore_label");
  const int ignore = has_ignore ? lp.get_int("ignore_label") : 0;
  const float* label = bottom[1]->cpu_data();
  double loss = 0;
  int64_t valid = 0;
  for (int64_t o = 0; o < outer_; ++o)
    for (int64_t i = 0; i < inner_; ++i) {
      const int l = static_cast<int>(label[o * inner_ + i]);
      if (has_ignore && l == ignore) continue;
      PYC_CHECK(l >= 0 && l < C, where(), ": label ", label[o * inner_ + i], " at position ", o * inner_ + i,
                " is outside [0, ", C, ")");
      loss -= std::log(std::max(p[o * C * inner_ + l * inner_ + i], FLT_MIN));
      ++valid;
    }
  top[0]->mutable_cpu_data()[0] = static_cast<float>(loss / normalizer(valid));
  if (top.size() == 2) blas::copy(prob_.count(), p, top[1]->mutable_cpu_data());
}

// d/dx = (p - onehot(label)) * loss_weight / normaliser; ignored positions get 0.
void SoftmaxWithLossLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  PYC_CHECK(!propagate_down[1], where(), ": cannot back-propagate into the labels");
  if (!propagate_down[0]) return;
  const int C = bottom[0]->shape(axis_);
  float* dx = bottom[0]->mutable_cpu_diff();
  blas::copy(prob_.count(), prob_.cpu_data(), dx);
  const proto::Message& lp = param_.msg("loss_param");
  const bool has_ignore = lp.has("ignore_label");
  const int ignore = has_ignore ? lp.get_int("ignore_label") : 0;
  const float* label = bottom[1]->cpu_data();
  int64_t valid = 0;
  for (int64_t o = 0; o < outer_; ++o)
    for (int64_t i = 0; i < inner_; ++i) {
      const int l = static_cast<int>(label[o * inner_ + i]);
      if (has_ignore && l == ignore) {
        for (int c = 0; c < C; ++c) dx[o * C * inner_ + c * inner_ + i] = 0.f;
      } else {
        dx[o * C * inner_ + l * inner_ + i] -= 1.f;
        ++valid;
      }
    }
  blas::scale(prob_.count(), top[0]->cpu_diff()[0] / normalizer(valid), dx);
}

REGISTER_LAYER("SoftmaxWithLoss", SoftmaxWithLossLayer);

}  // namespace pycolorize
