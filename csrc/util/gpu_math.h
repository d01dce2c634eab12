// util/gpu_math.h: the device-side twins of util/blas.h (cuBLAS GEMM/GEMV, element-wise helpers)
// and a growable device buffer. Callable from any translation unit; implemented in gpu_math.cu and
// compiled only when the build has CUDA. All work goes to the default stream, in order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pycolorize {
namespace gpu {

// C = alpha * op(A) * op(B) + beta * C, row-major, as blas::gemm.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
          float* C);
void gemm_ld(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
             int ldb, float beta, float* C, int ldc);
// y = alpha * op(A) * x + beta * y, A is M x N row-major.
void gemv(bool trans_a, int M, int N, float alpha, const float* A, const float* x, float beta, float* y);

void set(int64_t n, float value, float* y);
void copy(int64_t n, const float* x, float* y);
// rows x cols floats from src (rows lds apart) to dst (rows ldd apart).
void copy2d(int rows, int cols, const float* src, int64_t lds, float* dst, int64_t ldd);
void axpy(int64_t n, float alpha, const float* x, float* y);  // y += alpha * x
void scale(int64_t n, float alpha, float* y);                 // y *= alpha
void scaled_copy(int64_t n, float alpha, const float* x, float* y);  // y = alpha * x
double dot(int64_t n, const float* x, const float* y);        // waits for the result
double asum(int64_t n, const float* x);
// A device vector of at least n ones (for bias sums as GEMV), owned by the library.
const float* ones(int64_t n);

// TF32 tensor-core math for cuBLAS and cuDNN: off by default (full FP32), an explicit opt-in.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Device memory that grows on demand and is reused (masks, argmax indices, cuDNN workspaces).
class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void* get(size_t bytes);
  template <typename T>
  T* as(int64_t n) { return static_cast<T*>(get(static_cast<size_t>(n) * sizeof(T))); }

 private:
  void* ptr_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace gpu
}  // namespace pycolorize
