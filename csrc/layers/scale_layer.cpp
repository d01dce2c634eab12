// layers/scale_layer.cpp
#include "layers/scale_layer.h"

#include "filler.h"
#include "util/blas.h"

namespace pycolorize {

void ScaleLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("scale_param");
  if (bottom.size() == 1) {
    const int axis = bottom[0]->canonical_axis(p.get_int("axis"));
    const int num_axes = p.get_int("num_axes");
    PYC_CHECK(num_axes >= -1 && (num_axes == -1 || axis + num_axes <= bottom[0]->num_axes()), where(),
              ": num_axes ", num_axes, " does not fit bottom ", bottom[0]->shape_string(), " from axis ", axis);
    const int end = num_axes == -1 ? bottom[0]->num_axes() : axis + num_axes;
    std::vector<int> shape(bottom[0]->shape().begin() + axis, bottom[0]->shape().begin() + end);
    blobs_.push_back(std::make_shared<Blob>(shape));
    if (p.has("filler")) {
      fill(*blobs_[0], p.msg("filler"));
    } else {
      blas::set(blobs_[0]->count(), 1.f, blobs_[0]->mutable_cpu_data());
    }
  }
  if (p.get_bool("bias_term")) {
    const Blob& s = scale_blob(bottom);
    bias_index_ = static_cast<int>(blobs_.size());
    blobs_.push_back(std::make_shared<Blob>(s.shape()));
    fill(*blobs_.back(), p.msg("bias_filler"));
  }
}

void ScaleLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& s = scale_blob(bottom);
  const Blob& x = *bottom[0];
  const int axis_param = param_.msg("scale_param").get_int("axis");
  axis_ = s.num_axes() == 0 ? 0 : x.canonical_axis(axis_param);
  bool ok = axis_ + s.num_axes() <= x.num_axes();
  for (int i = 0; ok && i < s.num_axes(); ++i) ok = x.shape(axis_ + i) == s.shape(i);
  PYC_CHECK(ok, where(), ": scale shape ", s.shape_string(), " does not match bottom ", x.shape_string(), " from axis ", axis_);
  outer_ = x.count(0, axis_);
  dim_ = s.count();
  inner_ = x.count(axis_ + s.num_axes());
  if (top[0] != bottom[0]) top[0]->reshape_like(x);
  else saved_x_.reshape_like(x);
}

void ScaleLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const float* x = bottom[0]->cpu_data();
  if (top[0] == bottom[0]) blas::copy(bottom[0]->count(), x, saved_x_.mutable_cpu_data());
  const float* s = scale_blob(bottom).cpu_data();
  const float* b = bias_index_ >= 0 ? blobs_[bias_index_]->cpu_data() : nullptr;
  float* y = top[0]->mutable_cpu_data();
  for (int64_t o = 0; o < outer_; ++o)
    for (int64_t d = 0; d < dim_; ++d) {
      const int64_t base = (o * dim_ + d) * inner_;
      for (int64_t i = 0; i < inner_; ++i) y[base + i] = x[base + i] * s[d] + (b ? b[d] : 0.f);
    }
}

void ScaleLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const float* dy = top[0]->cpu_diff();
  const float* x = top[0] == bottom[0] ? saved_x_.cpu_data() : bottom[0]->cpu_data();
  const bool scale_is_param = bottom.size() == 1;
  if (bias_index_ >= 0 && param_propagate_down(bias_index_)) {
    float* db = blobs_[bias_index_]->mutable_cpu_diff();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t d = 0; d < dim_; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < inner_; ++i) acc += dy[(o * dim_ + d) * inner_ + i];
        db[d] += static_cast<float>(acc);
      }
  }
  const bool want_scale = scale_is_param ? param_propagate_down(0) : propagate_down[1];
  if (want_scale) {
    // Parameter diffs accumulate; a bottom's diff is overwritten.
    float* ds = scale_is_param ? blobs_[0]->mutable_cpu_diff() : bottom[1]->mutable_cpu_diff();
    if (!scale_is_param) blas::set(dim_, 0.f, ds);
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t d = 0; d < dim_; ++d) {
        double acc = 0;
        const int64_t base = (o * dim_ + d) * inner_;
        for (int64_t i = 0; i < inner_; ++i) acc += static_cast<double>(dy[base + i]) * x[base + i];
        ds[d] += static_cast<float>(acc);
      }
  }
  if (propagate_down[0]) {
    const float* s = scale_blob(bottom).cpu_data();
    float* dx = bottom[0]->mutable_cpu_diff();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t d = 0; d < dim_; ++d) {
        const int64_t base = (o * dim_ + d) * inner_;
        for (int64_t i = 0; i < inner_; ++i) dx[base + i] = dy[base + i] * s[d];
      }
  }
}

REGISTER_LAYER("Scale", ScaleLayer);

}  // namespace pycolorize
