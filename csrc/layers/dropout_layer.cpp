// layers/dropout_layer.cpp
#include "layers/dropout_layer.h"

#include <algorithm>
#include <cmath>

#include "parallel/parallel.h"
#include "util/blas.h"

namespace pycolorize {

void DropoutLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const float r = param_.msg("dropout_param").get_float("dropout_ratio");
  PYC_CHECK(r >= 0.f && r < 1.f, where(), ": dropout_ratio must be in [0, 1), got ", r);
  if (top[0] != bottom[0]) top[0]->reshape_like(*bottom[0]);
}

void DropoutLayer::new_seed() { seed_ = Runtime::rng()(); }

uint32_t DropoutLayer::threshold() const {  // P(word >= threshold) = 1 - r, to 2^-32
  const double r = param_.msg("dropout_param").get_float("dropout_ratio");
  return static_cast<uint32_t>(std::min(std::ldexp(r, 32), 4294967295.0));
}

float DropoutLayer::scale() const { return 1.f / (1.f - param_.msg("dropout_param").get_float("dropout_ratio")); }

int64_t DropoutLayer::offset(int64_t n) const { return static_cast<int64_t>(parallel::rank()) * n; }

namespace {
void apply_mask(int64_t n, int64_t offset, const float* x, float* y, uint64_t seed, uint32_t threshold, float scale) {
  for (int64_t b = 0; b < dropout_blocks(n, offset); ++b) dropout_block(b, n, offset, x, y, seed, threshold, scale);
}
}  // namespace

void DropoutLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int64_t n = bottom[0]->count();
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
  if (phase_ != Phase::TRAIN) {
    if (x != y) blas::copy(n, x, y);
    return;
  }
  new_seed();
  apply_mask(n, offset(n), x, y, seed_, threshold(), scale());
}

void DropoutLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  if (phase_ != Phase::TRAIN) {
    if (dy != dx) blas::copy(n, dy, dx);
    return;
  }
  apply_mask(n, offset(n), dy, dx, seed_, threshold(), scale());
}

REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace pycolorize
