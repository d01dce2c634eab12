// layers/silence_layer.cu: Silence on the GPU: zero gradients for the bottoms that need one.
#include "layers/silence_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void SilenceLayer::forward_gpu(const Blobs&, const Blobs&) {}

void SilenceLayer::backward_gpu(const Blobs&, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i)
    if (propagate_down[i]) gpu::set(bottom[i]->count(), 0.f, bottom[i]->mutable_gpu_diff());
}

}  // namespace pycolorize
