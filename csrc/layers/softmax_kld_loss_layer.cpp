// layers/softmax_kld_loss_layer.cpp
#include "layers/softmax_kld_loss_layer.h"

#include <cfloat>
#include <cmath>

#include "layers/softmax_layer.h"
#include "layers/softmax_loss_layer.h"
#include "util/blas.h"

namespace pycolorize {

void SoftmaxKLDLossLayer::reshape(const Blobs& bottom, const Blobs& top) {
  axis_ = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  outer_ = bottom[0]->count(0, axis_);
  inner_ = bottom[0]->count(axis_ + 1);
  PYC_CHECK(bottom[1]->shape() == bottom[0]->shape(), where(), ": target ", bottom[1]->shape_string(),
            " must have the shape of the prediction ", bottom[0]->shape_string());
  if (bottom.size() == 3)
    PYC_CHECK(bottom[2]->count() == outer_ * inner_, where(), ": mask ", bottom[2]->shape_string(), " has ",
              bottom[2]->count(), " values; it needs one per position (", outer_ * inner_, ") of ",
              bottom[0]->shape_string(), " along axis ", axis_);
  cross_entropy_ = param_.msg("softmax_kld_loss_param").get_string("type") == "CROSS_ENTROPY";
  top[0]->reshape({});
  prob_.reshape_like(*bottom[0]);
}

float SoftmaxKLDLossLayer::normalizer(const Blobs& bottom, double mask_sum) const {
  const double valid = bottom.size() == 3 ? mask_sum : static_cast<double>(outer_ * inner_);
  return loss_normalizer(param_.msg("loss_param"), outer_, inner_, valid);
}

void SoftmaxKLDLossLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int K = bottom[0]->shape(axis_);
  float* p = prob_.mutable_cpu_data();
  softmax_cpu(bottom[0]->cpu_data(), p, outer_, K, inner_);
  const float* q = bottom[1]->cpu_data();
  const float* m = bottom.size() == 3 ? bottom[2]->cpu_data() : nullptr;
  double loss = 0;
#pragma omp parallel for reduction(+ : loss) if (outer_ * inner_ * K > 65536)
  for (int64_t o = 0; o < outer_; ++o)
    for (int64_t i = 0; i < inner_; ++i) {
      const float w = m ? m[o * inner_ + i] : 1.f;
      if (w == 0.f) continue;
      double s = 0;
      for (int k = 0; k < K; ++k) {
        const int64_t j = (o * K + k) * inner_ + i;
        double t = std::log(std::max(p[j], FLT_MIN));
        if (!cross_entropy_) t -= std::log(std::max(q[j], FLT_MIN));
        s += q[j] * t;
      }
      loss -= w * s;
    }
  norm_ = normalizer(bottom, m ? blas::asum(outer_ * inner_, m) : 0.0);
  top[0]->mutable_cpu_data()[0] = static_cast<float>(loss / norm_);
}

void SoftmaxKLDLossLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t b = 1; b < bottom.size(); ++b)
    PYC_CHECK(!propagate_down[b], where(), ": cannot back-propagate into the ", b == 1 ? "target" : "mask");
  if (!propagate_down[0]) return;
  const int K = bottom[0]->shape(axis_);
  const float* p = prob_.cpu_data();
  const float* q = bottom[1]->cpu_data();
  const float* m = bottom.size() == 3 ? bottom[2]->cpu_data() : nullptr;
  float* dx = bottom[0]->mutable_cpu_diff();
  const float scale = top[0]->cpu_diff()[0] / norm_;
#pragma omp parallel for if (outer_ * inner_ * K > 65536)
  for (int64_t o = 0; o < outer_; ++o)
    for (int k = 0; k < K; ++k)
      for (int64_t i = 0; i < inner_; ++i) {
        const int64_t j = (o * K + k) * inner_ + i;
        dx[j] = (m ? m[o * inner_ + i] : 1.f) * (p[j] - q[j]) * scale;
      }
}

REGISTER_LAYER("SoftmaxKLDLoss", SoftmaxKLDLossLayer);

}  // namespace pycolorize
