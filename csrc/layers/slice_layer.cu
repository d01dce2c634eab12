// layers/slice_layer.cu: Slice on the GPU: one strided 2-D copy per top.
#include "layers/slice_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

void SliceLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int64_t outer = bottom[0]->count(0, axis_), inner = bottom[0]->count(axis_ + 1);
  const int64_t row = bottom[0]->shape(axis_) * inner;
  const float* x = bottom[0]->gpu_data();
  int64_t offset = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    const int64_t n = points_[i] * inner;
    CUDA_CHECK(cudaMemcpy2DAsync(top[i]->mutable_gpu_data(), n * sizeof(float), x + offset * inner, row * sizeof(float),
                                 n * sizeof(float), outer, cudaMemcpyDeviceToDevice));
    offset += points_[i];
  }
}

void SliceLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t outer = bottom[0]->count(0, axis_), inner = bottom[0]->count(axis_ + 1);
  const int64_t row = bottom[0]->shape(axis_) * inner;
  float* dx = bottom[0]->mutable_gpu_diff();
  int64_t offset = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    const int64_t n = points_[i] * inner;
    CUDA_CHECK(cudaMemcpy2DAsync(dx + offset * inner, row * sizeof(float), top[i]->gpu_diff(), n * sizeof(float),
                                 n * sizeof(float), outer, cudaMemcpyDeviceToDevice));
    offset += points_[i];
  }
}

}  // namespace pycolorize
