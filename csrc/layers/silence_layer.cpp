// layers/silence_layer.cpp
#include "layers/silence_layer.h"

#include "util/blas.h"

namespace pycolorize {

void SilenceLayer::reshape(const Blobs&, const Blobs&) {}
void SilenceLayer::forward_cpu(const Blobs&, const Blobs&) {}

void SilenceLayer::backward_cpu(const Blobs&, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i)
    if (propagate_down[i]) blas::set(bottom[i]->count(), 0.f, bottom[i]->mutable_cpu_diff());
}

REGISTER_LAYER("Silence", SilenceLayer);

}  // namespace pycolorize
