// util/blas.cpp
#include "util/blas.h"

#include <cmath>
#include <cstring>

// The few OpenBLAS entry points we use, declared here so that the build needs only the library
// (the scipy-openblas32 wheel's, or the copy a SciPy wheel bundles); symbols carry the scipy_ prefix.
extern "C" {
enum { CblasRowMajor = 101 };
enum { CblasNoTrans = 111, CblasTrans = 112 };
void scipy_cblas_sgemm(int order, int trans_a, int trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                       const float* B, int ldb, float beta, float* C, int ldc);
void scipy_cblas_sgemv(int order, int trans, int M, int N, float alpha, const float* A, int lda, const float* x,
                       int incx, float beta, float* y, int incy);
void scipy_openblas_set_num_threads(int n);
// Newer OpenBLAS only (the scipy-openblas32 wheel has it, SciPy's bundled copy may not): weak.
int scipy_openblas_set_num_threads_local(int n) __attribute__((weak));
char* scipy_openblas_get_config(void) __attribute__((weak));
char* scipy_openblas_get_corename(void) __attribute__((weak));
}

namespace pycolorize {
namespace blas {

std::string config() {
  std::string c = scipy_openblas_get_config ? scipy_openblas_get_config() : "OpenBLAS (version not reported)";
  if (scipy_openblas_get_corename) c += std::string(" (kernel: ") + scipy_openblas_get_corename() + ")";
  return c;
}

void gemm_ld(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
             int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                    A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  gemm_ld(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

void gemv(bool ta, int M, int N, float alpha, const float* A, const float* x, float beta, float* y) {
  if (M == 0 || N == 0) return;
  scipy_cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, M, N, alpha, A, N, x, 1, beta, y, 1);
}

void set_num_threads(int n) { scipy_openblas_set_num_threads(n); }
int set_local_threads(int n) {
  // Without the per-thread setting, BLAS calls inside our OpenMP loops keep the global pool size.
  return scipy_openblas_set_num_threads_local ? scipy_openblas_set_num_threads_local(n) : n;
}

void set(int64_t n, float value, float* y) {
  if (value == 0.f) {
    std::memset(y, 0, sizeof(float) * n);
    return;
  }
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

void copy(int64_t n, const float* x, float* y) {
  if (x != y) std::memcpy(y, x, sizeof(float) * n);
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void scale(int64_t n, float alpha, float* y) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] *= alpha;
}

double dot(int64_t n, const float* x, const float* y) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

double asum(int64_t n, const float* x) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) s += std::fabs(x[i]);
  return s;
}

}  // namespace blas
}  // namespace pycolorize
