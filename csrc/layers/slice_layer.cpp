// layers/slice_layer.cpp
#include "layers/slice_layer.h"

#include "util/blas.h"

namespace pycolorize {

void SliceLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const proto::Message& sp = param_.msg("slice_param");
  const Blob& b = *bottom[0];
  axis_ = sp.has("slice_dim") ? sp.get_int("slice_dim") : b.canonical_axis(sp.get_int("axis"));
  PYC_CHECK(axis_ < b.num_axes(), where(), ": axis ", axis_, " out of range for bottom ", b.shape_string());
  const int dim = b.shape(axis_);
  const std::vector<int> sp_points = sp.ints("slice_point");
  points_.clear();
  if (!sp_points.empty()) {
    PYC_CHECK(sp_points.size() == top.size() - 1, where(), ": ", sp_points.size(), " slice_point value(s) for ", top.size(),
              " tops (need tops - 1)");
    int prev = 0;
    for (int p : sp_points) {
      PYC_CHECK(p > prev && p < dim, where(), ": slice_point ", p, " must increase and lie inside (0, ", dim, ")");
      points_.push_back(p - prev);
      prev = p;
    }
    points_.push_back(dim - prev);
  } else {
    PYC_CHECK(dim % top.size() == 0, where(), ": axis ", axis_, " of size ", dim, " cannot be split into ", top.size(),
              " equal parts");
    points_.assign(top.size(), dim / static_cast<int>(top.size()));
  }
  for (size_t i = 0; i < top.size(); ++i) {
    std::vector<int> shape = b.shape();
    shape[axis_] = points_[i];
    top[i]->reshape(shape);
  }
}

void SliceLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int64_t outer = bottom[0]->count(0, axis_), inner = bottom[0]->count(axis_ + 1);
  const int64_t dim = bottom[0]->shape(axis_);
  const float* x = bottom[0]->cpu_data();
  int64_t offset = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    const int64_t n = points_[i] * inner;
    float* y = top[i]->mutable_cpu_data();
    for (int64_t o = 0; o < outer; ++o) blas::copy(n, x + (o * dim + offset) * inner, y + o * n);
    offset += points_[i];
  }
}

void SliceLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t outer = bottom[0]->count(0, axis_), inner = bottom[0]->count(axis_ + 1);
  const int64_t dim = bottom[0]->shape(axis_);
  float* dx = bottom[0]->mutable_cpu_diff();
  int64_t offset = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    const int64_t n = points_[i] * inner;
    const float* dy = top[i]->cpu_diff();
    for (int64_t o = 0; o < outer; ++o) blas::copy(n, dy + o * n, dx + (o * dim + offset) * inner);
    offset += points_[i];
  }
}

REGISTER_LAYER("Slice", SliceLayer);

}  // namespace pycolorize
