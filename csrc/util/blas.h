// util/blas.h: the CPU math the layers use: GEMM/GEMV on OpenBLAS (scipy-openblas32 wheel, symbols
// prefixed scipy_), and a few OpenMP element-wise helpers.
#pragma once

#include <cstdint>
#include <string>

namespace pycolorize {
namespace blas {

// C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is M x K, op(B) is K x N.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B,
          float beta, float* C);
// Same with explicit leading dimensions (for column blocks of a larger matrix).
void gemm_ld(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
             const float* B, int ldb, float beta, float* C, int ldc);
// y = alpha * op(A) * x + beta * y, A is M x N row-major.
void gemv(bool trans_a, int M, int N, float alpha, const float* A, const float* x, float beta, float* y);

void set_num_threads(int n);
// OpenBLAS's own description: version, build options and the kernel it chose for this CPU
// ("OpenBLAS 0.3.30 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64 (kernel: Zen)").
std::string config();
// Run single-threaded BLAS on the calling thread (inside our own OpenMP loops); returns the old value.
int set_local_threads(int n);

void set(int64_t n, float value, float* y);
void copy(int64_t n, const float* x, float* y);
void axpy(int64_t n, float alpha, const float* x, float* y);  // y += alpha * x
void scale(int64_t n, float alpha, float* y);                 // y *= alpha
double dot(int64_t n, const float* x, const float* y);
double asum(int64_t n, const float* x);

}  // namespace blas
}  // namespace pycolorize
