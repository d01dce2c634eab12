// util/gpu.cu: CUDA implementation of the memory plumbing (built only with CUDA).
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "util/cuda.cuh"
#include "util/gpu.h"

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

std::map<std::string, std::string> library_versions() {
  // CUDA's integers are 1000 * major + 10 * minor; cuDNN 9's are 10000 * major + 100 * minor + patch.
  auto cuda = [](int v) { return str(v / 1000, ".", v % 1000 / 10); };
  std::map<std::string, std::string> v;
  int runtime = 0, driver = 0;
  v["cuda_runtime"] = cudaRuntimeGetVersion(&runtime) == cudaSuccess ? cuda(runtime) : "unknown";
  v["cuda_driver"] = cudaDriverGetVersion(&driver) == cudaSuccess && driver ? cuda(driver) : "none";
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    v["cublas"] = str(major, ".", minor, ".", patch);
  const size_t dnn = cudnnGetVersion();
  v["cudnn"] = str(dnn / 10000, ".", dnn % 10000 / 100, ".", dnn % 100);
  return v;
}

namespace {
std::mutex g_mutex;
std::unordered_map<void*, size_t> g_sizes;
size_t g_allocated = 0, g_peak = 0;
}  // namespace

void* malloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    throw Error(str("cudaMalloc of ", bytes, " bytes failed: ", cudaGetErrorString(e), " (", free_b >> 20, " of ",
                    total >> 20, " MiB free)"));
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sizes[p] = bytes;
  g_allocated += bytes;
  g_peak = std::max(g_peak, g_allocated);
  return p;
}

void free(void* ptr) {
  if (!ptr) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_sizes.find(ptr);
    if (it != g_sizes.end()) {
      g_allocated -= it->second;
      g_sizes.erase(it);
    }
  }
  cudaFree(ptr);
}

size_t allocated_bytes() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_allocated;
}
size_t peak_allocated_bytes() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_peak;
}
void reset_peak() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_peak = g_allocated;
}
void memory_info(size_t* free_bytes, size_t* total_bytes) { CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes)); }
void memcpy_h2d(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice)); }
void memcpy_d2h(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost)); }
void memcpy_d2d(void* dst, const void* src, size_t n) { CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice)); }
void memset_zero(void* ptr, size_t n) { CUDA_CHECK(cudaMemset(ptr, 0, n)); }
void synchronize() { CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace gpu
}  // namespace pycolorize
