// layers/split_layer.cpp
#include "layers/split_layer.h"

#include "util/blas.h"

namespace pycolorize {

void SplitLayer::reshape(const Blobs& bottom, const Blobs& top) {
  for (Blob* t : top) {
    PYC_CHECK(t != bottom[0], where(), ": Split cannot work in place");
    t->reshape_like(*bottom[0]);
    t->share_data(*bottom[0]);
  }
}

void SplitLayer::forward_cpu(const Blobs&, const Blobs&) {}

void SplitLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  float* dx = bottom[0]->mutable_cpu_diff();
  blas::copy(n, top[0]->cpu_diff(), dx);
  for (size_t i = 1; i < top.size(); ++i) blas::axpy(n, 1.f, top[i]->cpu_diff(), dx);
}

REGISTER_LAYER("Split", SplitLayer);

}  // namespace pycolorize
