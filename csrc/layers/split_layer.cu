// layers/split_layer.cu: Split on the GPU: the tops share the bottom's data; backward sums their diffs.
#include "layers/split_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void SplitLayer::forward_gpu(const Blobs&, const Blobs&) {}

void SplitLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t n = bottom[0]->count();
  float* dx = bottom[0]->mutable_gpu_diff();
  gpu::copy(n, top[0]->gpu_diff(), dx);
  for (size_t i = 1; i < top.size(); ++i) gpu::axpy(n, 1.f, top[i]->gpu_diff(), dx);
}

}  // namespace pycolorize
