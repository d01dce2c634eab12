// util/gpu_math.cu: cuBLAS wrappers (row-major on top of column-major cuBLAS: C^T = B^T A^T), the
// element-wise helpers and the handles, one per device, created on first use.
#include <map>
#include <vector>

#include "util/cuda.cuh"
#include "util/gpu.h"

namespace pycolorize {
namespace gpu {

namespace {
bool g_tf32 = false;

int current_device() {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

__global__ void set_kernel(int64_t n, float v, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] = v;
}
__global__ void axpy_kernel(int64_t n, float a, const float* x, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] += a * x[i];
}
__global__ void scale_kernel(int64_t n, float a, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] *= a;
}
__global__ void scaled_copy_kernel(int64_t n, float a, const float* x, float* y) {
  CUDA_KERNEL_LOOP(i, n) y[i] = a * x[i];
}
// Sums in double, one partial per block, so long reductions keep float32 precision.
__global__ void dot_kernel(int64_t n, const float* x, const float* y, bool absolute, double* partial) {
  __shared__ double s[kThreads];
  double acc = 0;
  CUDA_KERNEL_LOOP(i, n) acc += absolute ? fabs(static_cast<double>(x[i])) : static_cast<double>(x[i]) * y[i];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int k = kThreads / 2; k > 0; k >>= 1) {
    if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

double reduce(int64_t n, const float* x, const float* y, bool absolute) {
  if (n == 0) return 0;
  static Buffer partial_buf;
  const int nb = std::min(blocks(n), 1024);
  double* partial = partial_buf.as<double>(nb);
  dot_kernel<<<nb, kThreads>>>(n, x, y, absolute, partial);
  CUDA_POST_LAUNCH();
  std::vector<double> host(nb);
  CUDA_CHECK(cudaMemcpy(host.data(), partial, nb * sizeof(double), cudaMemcpyDeviceToHost));
  double s = 0;
  for (double v : host) s += v;
  return s;
}
}  // namespace

cublasHandle_t cublas() {
  static std::map<int, cublasHandle_t> handles;
  const int d = current_device();
  auto it = handles.find(d);
  if (it == handles.end()) {
    cublasHandle_t h;
    CUBLAS_CHECK(cublasCreate(&h));
    it = handles.emplace(d, h).first;
  }
  CUBLAS_CHECK(cublasSetMathMode(it->second, g_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return it->second;
}

cudnnHandle_t cudnn() {
  static std::map<int, cudnnHandle_t> handles;
  const int d = current_device();
  auto it = handles.find(d);
  if (it == handles.end()) {
    cudnnHandle_t h;
    CUDNN_CHECK(cudnnCreate(&h));
    it = handles.emplace(d, h).first;
  }
  return it->second;
}

void set_allow_tf32(bool allow) { g_tf32 = allow; }
bool allow_tf32() { return g_tf32; }

void gemm_ld(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
             float beta, float* C, int ldc) {
  // Row-major C (M x N) is column-major C^T (N x M) = op(B)^T op(A)^T.
  CUBLAS_CHECK(cublasSgemm(cublas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
                           ldb, A, lda, &beta, C, ldc));
}

void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  gemm_ld(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

void gemv(bool ta, int M, int N, float alpha, const float* A, const float* x, float beta, float* y) {
  // Row-major A (M x N) is column-major A^T (N x M): flip the transpose.
  CUBLAS_CHECK(cublasSgemv(cublas(), ta ? CUBLAS_OP_N : CUBLAS_OP_T, N, M, &alpha, A, N, x, 1, &beta, y, 1));
}

void set(int64_t n, float v, float* y) {
  if (n == 0) return;
  if (v == 0.f) {
    CUDA_CHECK(cudaMemsetAsync(y, 0, n * sizeof(float)));
    return;
  }
  set_kernel<<<blocks(n), kThreads>>>(n, v, y);
  CUDA_POST_LAUNCH();
}

void copy(int64_t n, const float* x, float* y) {
  if (n == 0 || x == y) return;
  CUDA_CHECK(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice));
}

void copy2d(int rows, int cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
  if (rows == 0 || cols == 0) return;
  CUDA_CHECK(cudaMemcpy2DAsync(dst, ldd * sizeof(float), src, lds * sizeof(float), cols * sizeof(float), rows,
                               cudaMemcpyDeviceToDevice));
}

void axpy(int64_t n, float a, const float* x, float* y) {
  if (n == 0) return;
  axpy_kernel<<<blocks(n), kThreads>>>(n, a, x, y);
  CUDA_POST_LAUNCH();
}

void scale(int64_t n, float a, float* y) {
  if (n == 0) return;
  scale_kernel<<<blocks(n), kThreads>>>(n, a, y);
  CUDA_POST_LAUNCH();
}

void scaled_copy(int64_t n, float a, const float* x, float* y) {
  if (n == 0) return;
  scaled_copy_kernel<<<blocks(n), kThreads>>>(n, a, x, y);
  CUDA_POST_LAUNCH();
}

double dot(int64_t n, const float* x, const float* y) { return reduce(n, x, y, false); }
double asum(int64_t n, const float* x) { return reduce(n, x, x, true); }

const float* ones(int64_t n) {
  static std::map<int, std::pair<float*, int64_t>> vecs;
  auto& v = vecs[current_device()];
  if (v.second < n) {
    gpu::free(v.first);
    v.first = static_cast<float*>(gpu::malloc(n * sizeof(float)));
    v.second = n;
    set(n, 1.f, v.first);
  }
  return v.first;
}

Buffer::~Buffer() { gpu::free(ptr_); }

void* Buffer::get(size_t bytes) {
  if (bytes > capacity_) {
    gpu::free(ptr_);
    ptr_ = nullptr;
    capacity_ = 0;
    ptr_ = gpu::malloc(bytes);
    capacity_ = bytes;
  }
  return ptr_;
}

}  // namespace gpu
}  // namespace pycolorize
