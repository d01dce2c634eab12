// layers/softmax_layer.cu: Softmax on the GPU: one thread per (outer, inner) position walks the
// C channels (consecutive threads read consecutive inner positions).
#include "layers/softmax_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void softmax_forward(int64_t outer, int C, int64_t inner, const float* x, float* y) {
  CUDA_KERNEL_LOOP(k, outer * inner) {
    const int64_t o = k / inner, i = k % inner;
    const float* xp = x + o * C * inner + i;
    float* yp = y + o * C * inner + i;
    float m = xp[0];
    for (int c = 1; c < C; ++c) m = fmaxf(m, xp[c * inner]);
    float s = 0;
    for (int c = 0; c < C; ++c) s += (yp[c * inner] = expf(xp[c * inner] - m));
    for (int c = 0; c < C; ++c) yp[c * inner] /= s;
  }
}
__global__ void softmax_backward(int64_t outer, int C, int64_t inner, const float* y, const float* dy, float* dx) {
  CUDA_KERNEL_LOOP(k, outer * inner) {
    const int64_t base = (k / inner) * C * inner + k % inner;
    float d = 0;
    for (int c = 0; c < C; ++c) d += dy[base + c * inner] * y[base + c * inner];
    for (int c = 0; c < C; ++c) dx[base + c * inner] = (dy[base + c * inner] - d) * y[base + c * inner];
  }
}
}  // namespace

void softmax_gpu(const float* x, float* y, int64_t outer, int C, int64_t inner) {
  softmax_forward<<<gpu::blocks(outer * inner), gpu::kThreads>>>(outer, C, inner, x, y);
  CUDA_POST_LAUNCH();
}

void SoftmaxLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int axis = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  const float* x = bottom[0]->gpu_data();
  softmax_gpu(x, top[0]->mutable_gpu_data(), bottom[0]->count(0, axis), bottom[0]->shape(axis), bottom[0]->count(axis + 1));
}

void SoftmaxLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int axis = bottom[0]->canonical_axis(param_.msg("softmax_param").get_int("axis"));
  const int64_t outer = bottom[0]->count(0, axis), inner = bottom[0]->count(axis + 1);
  const float* y = top[0]->gpu_data();
  const float* dy = top[0]->gpu_diff();
  softmax_backward<<<gpu::blocks(outer * inner), gpu::kThreads>>>(outer, bottom[0]->shape(axis), inner, y, dy,
                                                                  bottom[0]->mutable_gpu_diff());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
