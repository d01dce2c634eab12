// layers/eltwise_layer.cpp: Caffe's EltwiseLayer, including its MAX tie rule (the first pair goes
// to the second bottom on ties; later bottoms win only when strictly larger).
#include "layers/eltwise_layer.h"

#include "util/blas.h"

namespace pycolorize {

void EltwiseLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& ep = param_.msg("eltwise_param");
  op_ = ep.get_string("operation");
  coeffs_ = ep.floats("coeff");
  PYC_CHECK(coeffs_.empty() || op_ == "SUM", where(), ": coeff is only allowed for SUM");
  PYC_CHECK(coeffs_.empty() || coeffs_.size() == bottom.size(), where(), ": ", coeffs_.size(), " coeff value(s) for ",
            bottom.size(), " bottoms");
  if (coeffs_.empty()) coeffs_.assign(bottom.size(), 1.f);
}

void EltwiseLayer::reshape(const Blobs& bottom, const Blobs& top) {
  for (size_t i = 1; i < bottom.size(); ++i)
    PYC_CHECK(bottom[i]->shape() == bottom[0]->shape(), where(), ": bottom ", i, " has shape ", bottom[i]->shape_string(),
              " but bottom 0 has ", bottom[0]->shape_string(), "; Eltwise needs equal shapes");
  top[0]->reshape_like(*bottom[0]);
  if (op_ == "MAX") argmax_.resize(bottom[0]->count());
}

void EltwiseLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = top[0]->count();
  float* y = top[0]->mutable_cpu_data();
  if (op_ == "PROD") {
    blas::copy(n, bottom[0]->cpu_data(), y);
    for (size_t b = 1; b < bottom.size(); ++b) {
      const float* x = bottom[b]->cpu_data();
      for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
    }
  } else if (op_ == "SUM") {
    blas::set(n, 0.f, y);
    for (size_t b = 0; b < bottom.size(); ++b) blas::axpy(n, coeffs_[b], bottom[b]->cpu_data(), y);
  } else {  // MAX
    const float* a = bottom[0]->cpu_data();
    const float* c = bottom[1]->cpu_data();
    for (int64_t i = 0; i < n; ++i) {
      const bool first = a[i] > c[i];
      y[i] = first ? a[i] : c[i];
      argmax_[i] = first ? 0 : 1;
    }
    for (size_t b = 2; b < bottom.size(); ++b) {
      const float* x = bottom[b]->cpu_data();
      for (int64_t i = 0; i < n; ++i)
        if (x[i] > y[i]) {
          y[i] = x[i];
          argmax_[i] = static_cast<int>(b);
        }
    }
  }
}

void EltwiseLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const int64_t n = top[0]->count();
  const float* dy = top[0]->cpu_diff();
  const float* y = top[0]->cpu_data();
  const bool stable = param_.msg("eltwise_param").get_bool("stable_prod_grad");
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (!propagate_down[b]) continue;
    float* dx = bottom[b]->mutable_cpu_diff();
    const float* x = bottom[b]->cpu_data();
    if (op_ == "PROD") {
      if (stable) {
        blas::set(n, 1.f, dx);
        for (size_t o = 0; o < bottom.size(); ++o) {
          if (o == b) continue;
          const float* xo = bottom[o]->cpu_data();
          for (int64_t i = 0; i < n; ++i) dx[i] *= xo[i];
        }
        for (int64_t i = 0; i < n; ++i) dx[i] *= dy[i];
      } else {
        for (int64_t i = 0; i < n; ++i) dx[i] = y[i] / x[i] * dy[i];
      }
    } else if (op_ == "SUM") {
      for (int64_t i = 0; i < n; ++i) dx[i] = coeffs_[b] * dy[i];
    } else {
      for (int64_t i = 0; i < n; ++i) dx[i] = argmax_[i] == (int)b ? dy[i] : 0.f;
    }
  }
}

REGISTER_LAYER("Eltwise", EltwiseLayer);

}  // namespace pycolorize
