// util/gpu.cu: CUDA implementation of the memory plumbing (built only with CUDA).
#include <cuda_runtime.h>

#include "common.h"
#include "util/gpu.h"

#define CUDA_CHECK(call)                                                                  \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess)                                                                \
      throw ::pycolorize::Error(::pycolorize::str(#call, ": ", cudaGetErrorString(e_)));  \
  } while (0)

namespace pycolorize {
namespace gpu {

bool compiled() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the sticky error, report none
    return 0;
  }
  return n;
}

std::string device_name(int id) {
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, id));
  return prop.name;
}

void set_device(int id) { CUDA_CHECK(cudaSetDevice(id)); }

void* malloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess)
    throw Error(str("cudaMalloc of ", bytes, " bytes failed: ", cudaGetErrorString(e)));
  return p;
}

void free(void* ptr) {
  if (ptr) cudaFree(ptr);
}
void memcpy_h2d(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice)); }
void memcpy_d2h(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost)); }
void memcpy_d2d(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice)); }
void memset_zero(void* ptr, size_t n) { CUDA_CHECK(cudaMemset(ptr, 0, n)); }
void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace gpu
}  // namespace pycolorize
