// layers/projection_layer.cpp
#include "layers/projection_layer.h"

#include "filler.h"
#include "util/window.h"
#include "util/blas.h"

namespace pycolorize {

namespace {
struct CpuBackend {
  const float* data(const Blob& b) { return b.cpu_data(); }
  float* mutable_data(Blob& b) { return b.mutable_cpu_data(); }
  const float* diff(const Blob& b) { return b.cpu_diff(); }
  float* mutable_diff(Blob& b) { return b.mutable_cpu_diff(); }
  const float* ones(int64_t n) {
    thread_local std::vector<float> v;
    if (static_cast<int64_t>(v.size()) < n) v.assign(static_cast<size_t>(n), 1.f);
    return v.data();
  }
  void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
    blas::gemm_ld(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void gemv(bool ta, int M, int N, float alpha, const float* A, const float* x, float beta, float* y) {
    blas::gemv(ta, M, N, alpha, A, x, beta, y);
  }
};
}  // namespace

void ProjectionLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("convolution_param");
  PYC_CHECK(p.has("num_output") && p.get_int("num_output") > 0, where(), ": convolution_param needs a positive num_output");
  num_output_ = p.get_int("num_output");
  bias_ = p.get_bool("bias_term");
  const WindowPair k = read_window_pair(p, "kernel_size", 1, where()), s = read_window_pair(p, "stride", 1, where()),
                   pad = read_window_pair(p, "pad", 0, where());
  PYC_CHECK(k.h == 1 && k.w == 1 && s.h == 1 && s.w == 1 && pad.h == 0 && pad.w == 0 && p.get_int("group") == 1 &&
                p.ints("dilation").size() <= 1 && (p.ints("dilation").empty() || p.ints("dilation")[0] == 1) &&
                p.get_int("axis") == 1,
            where(), ": a Projection is a 1x1 convolution: kernel 1, stride 1, no pad, group 1, axis 1");
  int channels = 0;  // sum C_i
  for (const Blob* b : bottom) {
    PYC_CHECK(b->num_axes() == 4, where(), ": needs 4-d (N, C, H, W) bottoms, got ", b->shape_string());
    column_.push_back(channels);
    width_.push_back(b->shape(1));
    channels += b->shape(1);
  }
  blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_, channels, 1, 1}));
  fill(*blobs_[0], p.msg("weight_filler"));
  if (bias_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_}));
    fill(*blobs_[1], p.msg("bias_filler"));
  }
  w_ld_ = channels;
}

void ProjectionLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& b0 = *bottom[0];
  for (size_t i = 0; i < bottom.size(); ++i) {
    const Blob& b = *bottom[i];
    PYC_CHECK(b.num_axes() == 4 && b.shape(0) == b0.shape(0) && b.shape(2) == b0.shape(2) && b.shape(3) == b0.shape(3),
              where(), ": bottom ", i, " has shape ", b.shape_string(), " but bottom 0 has ", b0.shape_string(),
              " (all need the same N, H and W)");
    PYC_CHECK(top[0] != &b, where(), ": cannot run in place");
    PYC_CHECK(b.shape(1) == width_[i], where(), ": bottom ", i, " ", b.shape_string(), " has ", b.shape(1),
              " channels but the weights were set up for ", width_[i]);
  }
  top[0]->reshape({b0.shape(0), num_output_, b0.shape(2), b0.shape(3)});
}

void ProjectionLayer::view_weight_columns(std::shared_ptr<Blob> weights, const std::vector<int>& first_columns,
                                          std::shared_ptr<Blob> bias) {
  PYC_CHECK(first_columns.size() == column_.size() && weights->num_axes() == 4 && weights->shape(0) == num_output_ &&
                weights->count(2) == 1,
            where(), ": cannot view ", first_columns.size(), " column ranges of weights ", weights->shape_string());
  for (size_t i = 0; i < column_.size(); ++i) {
    const int C = width_[i];
    PYC_CHECK(first_columns[i] >= 0 && first_columns[i] + C <= weights->shape(1), where(), ": cannot view columns [",
              first_columns[i], ", ", first_columns[i] + C, ") of weights ", weights->shape_string());
  }
  PYC_CHECK(bias_ == (bias != nullptr) && (!bias || bias->count() == num_output_), where(), ": the bias does not fit");
  blobs_[0] = std::move(weights);
  if (bias_) blobs_[1] = std::move(bias);
  column_ = first_columns;
  w_ld_ = blobs_[0]->shape(1);
}

void ProjectionLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  CpuBackend be;
  run_forward(be, bottom, top);
}

void ProjectionLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  CpuBackend be;
  run_backward(be, top, propagate_down, bottom);
}

REGISTER_LAYER("Projection", ProjectionLayer);

}  // namespace pycolorize
