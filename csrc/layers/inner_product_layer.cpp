// layers/inner_product_layer.cpp
#include "layers/inner_product_layer.h"

#include "filler.h"
#include "util/blas.h"

namespace pycolorize {

void InnerProductLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("inner_product_param");
  PYC_CHECK(p.has("num_output"), where(), ": inner_product_param needs num_output");
  N_ = p.get_int("num_output");
  bias_ = p.get_bool("bias_term");
  transpose_ = p.get_bool("transpose");
  const int axis = bottom[0]->canonical_axis(p.get_int("axis"));
  K_ = static_cast<int>(bottom[0]->count(axis));
  blobs_.push_back(std::make_shared<Blob>(transpose_ ? std::vector<int>{K_, N_} : std::vector<int>{N_, K_}));
  fill(*blobs_[0], p.msg("weight_filler"));
  if (bias_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{N_}));
    fill(*blobs_[1], p.msg("bias_filler"));
  }
}

void InnerProductLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const int axis = bottom[0]->canonical_axis(param_.msg("inner_product_param").get_int("axis"));
  PYC_CHECK(bottom[0]->count(axis) == K_, where(), ": bottom ", bottom[0]->shape_string(), " gives ", bottom[0]->count(axis),
            " inputs per sample from axis ", axis, " but the weights expect ", K_);
  M_ = static_cast<int>(bottom[0]->count(0, axis));
  std::vector<int> shape(bottom[0]->shape().begin(), bottom[0]->shape().begin() + axis);
  shape.push_back(N_);
  top[0]->reshape(shape);
}

void InnerProductLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  float* y = top[0]->mutable_cpu_data();
  blas::gemm(false, !transpose_, M_, N_, K_, 1.f, bottom[0]->cpu_data(), blobs_[0]->cpu_data(), 0.f, y);
  if (bias_) {
    const float* b = blobs_[1]->cpu_data();
    for (int m = 0; m < M_; ++m)
      for (int n = 0; n < N_; ++n) y[static_cast<int64_t>(m) * N_ + n] += b[n];
  }
}

void InnerProductLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const float* dy = top[0]->cpu_diff();
  const float* x = bottom[0]->cpu_data();
  if (param_propagate_down(0)) {
    if (transpose_)
      blas::gemm(true, false, K_, N_, M_, 1.f, x, dy, 1.f, blobs_[0]->mutable_cpu_diff());
    else
      blas::gemm(true, false, N_, K_, M_, 1.f, dy, x, 1.f, blobs_[0]->mutable_cpu_diff());
  }
  if (bias_ && param_propagate_down(1)) {
    float* db = blobs_[1]->mutable_cpu_diff();
    for (int m = 0; m < M_; ++m)
      for (int n = 0; n < N_; ++n) db[n] += dy[static_cast<int64_t>(m) * N_ + n];
  }
  if (propagate_down[0])
    blas::gemm(false, transpose_, M_, K_, N_, 1.f, dy, blobs_[0]->cpu_data(), 0.f, bottom[0]->mutable_cpu_diff());
}

REGISTER_LAYER("InnerProduct", InnerProductLayer);

}  // namespace pycolorize
