// layers/concat_layer.cu: Concat on the GPU: one strided 2-D copy per bottom.
#include "layers/concat_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
// Copies `rows` rows of `width` floats between buffers whose rows are `src_pitch` / `dst_pitch` apart.
void copy_rows(int64_t rows, int64_t width, const float* src, int64_t src_pitch, float* dst, int64_t dst_pitch) {
  CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch * sizeof(float), src, src_pitch * sizeof(float), width * sizeof(float), rows,
                               cudaMemcpyDeviceToDevice));
}
}  // namespace

void ConcatLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  if (bottom.size() == 1) return;
  const int64_t outer = top[0]->count(0, axis_), inner = top[0]->count(axis_ + 1);
  const int64_t row = top[0]->shape(axis_) * inner;
  float* y = top[0]->mutable_gpu_data();
  int64_t offset = 0;
  for (Blob* b : bottom) {
    const int64_t n = b->shape(axis_) * inner;
    copy_rows(outer, n, b->gpu_data(), n, y + offset * inner, row);
    offset += b->shape(axis_);
  }
}

void ConcatLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (bottom.size() == 1) return;
  const int64_t outer = top[0]->count(0, axis_), inner = top[0]->count(axis_ + 1);
  const int64_t row = top[0]->shape(axis_) * inner;
  const float* dy = top[0]->gpu_diff();
  int64_t offset = 0;
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t n = bottom[i]->shape(axis_) * inner;
    if (propagate_down[i]) copy_rows(outer, n, dy + offset * inner, row, bottom[i]->mutable_gpu_diff(), n);
    offset += bottom[i]->shape(axis_);
  }
}

}  // namespace pycolorize
