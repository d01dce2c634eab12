// layers/concat_layer.cpp
#include "layers/concat_layer.h"

#include "util/blas.h"

namespace pycolorize {

void ConcatLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const proto::Message& cp = param_.msg("concat_param");
  const Blob& b0 = *bottom[0];
  axis_ = cp.has("concat_dim") ? cp.get_int("concat_dim") : b0.canonical_axis(cp.get_int("axis"));
  PYC_CHECK(axis_ < b0.num_axes(), where(), ": axis ", axis_, " out of range for bottom 0 ", b0.shape_string());
  std::vector<int> shape = b0.shape();
  for (size_t i = 1; i < bottom.size(); ++i) {
    const Blob& b = *bottom[i];
    bool ok = b.num_axes() == b0.num_axes();
    for (int a = 0; ok && a < b0.num_axes(); ++a) ok = a == axis_ || b.shape(a) == b0.shape(a);
    PYC_CHECK(ok, where(), ": bottom ", i, " has shape ", b.shape_string(), " but bottom 0 has ", b0.shape_string(),
              "; all dims except axis ", axis_, " must match");
    shape[axis_] += b.shape(axis_);
  }
  top[0]->reshape(shape);
  if (bottom.size() == 1) {
    top[0]->share_data(b0);
    top[0]->share_diff(b0);
  }
}

void ConcatLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  if (bottom.size() == 1) return;
  const int64_t outer = top[0]->count(0, axis_), inner = top[0]->count(axis_ + 1);
  const int64_t top_axis = top[0]->shape(axis_);
  float* y = top[0]->mutable_cpu_data();
  int64_t offset = 0;
  for (Blob* b : bottom) {
    const int64_t n = b->shape(axis_) * inner;
    const float* x = b->cpu_data();
    for (int64_t o = 0; o < outer; ++o) blas::copy(n, x + o * n, y + (o * top_axis + offset) * inner);
    offset += b->shape(axis_);
  }
}

void ConcatLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (bottom.size() == 1) return;
  const int64_t outer = top[0]->count(0, axis_), inner = top[0]->count(axis_ + 1);
  const int64_t top_axis = top[0]->shape(axis_);
  const float* dy = top[0]->cpu_diff();
  int64_t offset = 0;
  for (size_t i = 0; i < bottom.size(); ++i) {
    Blob* b = bottom[i];
    const int64_t n = b->shape(axis_) * inner;
    if (propagate_down[i]) {
      float* dx = b->mutable_cpu_diff();
      for (int64_t o = 0; o < outer; ++o) blas::copy(n, dy + (o * top_axis + offset) * inner, dx + o * n);
    }
    offset += b->shape(axis_);
  }
}

REGISTER_LAYER("Concat", ConcatLayer);

}  // namespace pycolorize
