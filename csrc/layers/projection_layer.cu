// layers/projection_layer.cu: Projection on the GPU, the same GEMMs on cuBLAS.
#include "layers/projection_layer.h"
#include "util/gpu_math.h"

namespace pycolorize {

namespace {
struct GpuBackend {
  const float* data(const Blob& b) { return b.gpu_data(); }
  float* mutable_data(Blob& b) { return b.mutable_gpu_data(); }
  const float* diff(const Blob& b) { return b.gpu_diff(); }
  float* mutable_diff(Blob& b) { return b.mutable_gpu_diff(); }
  const float* ones(int64_t n) { return gpu::ones(n); }
  void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
    gpu::gemm_ld(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void gemv(bool ta, int M, int N, float alpha, const float* A, const float* x, float beta, float* y) {
    gpu::gemv(ta, M, N, alpha, A, x, beta, y);
  }
};
}  // namespace

void ProjectionLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  GpuBackend be;
  run_forward(be, bottom, top);
}

void ProjectionLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  GpuBackend be;
  run_backward(be, top, propagate_down, bottom);
}

}  // namespace pycolorize
