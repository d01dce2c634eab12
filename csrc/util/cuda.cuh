// util/cuda.cuh: what the .cu files share: error checks that throw pycolorize::Error, the cuBLAS
// and cuDNN handles, and the launch shape of element-wise kernels (a grid-stride loop).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "common.h"
#include "util/gpu_math.h"

#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess)                                                                \
      throw ::pycolorize::Error(::pycolorize::str(#call, ": ", cudaGetErrorString(e_)));  \
  } while (0)

#define CUBLAS_CHECK(call)                                                                        \
  do {                                                                                            \
    cublasStatus_t s_ = (call);                                                                   \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                              \
      throw ::pycolorize::Error(::pycolorize::str(#call, ": cuBLAS status ", static_cast<int>(s_))); \
  } while (0)

#define CUDNN_CHECK(call)                                                                   \
  do {                                                                                      \
    cudnnStatus_t s_ = (call);                                                              \
    if (s_ != CUDNN_STATUS_SUCCESS)                                                         \
      throw ::pycolorize::Error(::pycolorize::str(#call, ": ", cudnnGetErrorString(s_)));   \
  } while (0)

// Checks the launch of the kernel just queued (bad configuration, no kernel image for this GPU).
#define CUDA_POST_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CUDA_KERNEL_LOOP(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

namespace pycolorize {
namespace gpu {

constexpr int kThreads = 256;
// Blocks for an element-wise kernel over n items (the grid-stride loop covers the rest).
inline int blocks(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

cublasHandle_t cublas();
cudnnHandle_t cudnn();

}  // namespace gpu
}  // namespace pycolorize
