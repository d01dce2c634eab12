// util/gpu_none.cpp: the GPU entry points of a CPU-only build (every function of gpu.h and
// gpu_math.h): no device, and a clear error if anything calls one anyway. A function missing here
// is an undefined symbol that only shows when the CPU-only module is imported.
#ifndef USE_CUDA
#include "common.h"
#include "util/gpu.h"
#include "util/gpu_math.h"

namespace pycolorize {
namespace gpu {

namespace {
[[noreturn]] void no_cuda() { throw Error("pycolorize was built without CUDA (see the CMake output)"); }
}  // namespace

bool compiled() { return false; }
int device_count() { return 0; }
std::string device_name(int) { no_cuda(); }
void set_device(int) { no_cuda(); }
void* malloc(size_t) { no_cuda(); }
void free(void*) {}
void memcpy_h2d(void*, const void*, size_t) { no_cuda(); }
void memcpy_d2h(void*, const void*, size_t) { no_cuda(); }
void memcpy_d2d(void*, const void*, size_t) { no_cuda(); }
void memset_zero(void*, size_t) { no_cuda(); }
void synchronize() {}
size_t allocated_bytes() { return 0; }
size_t peak_allocated_bytes() { return 0; }
void reset_peak() {}
void memory_info(size_t*, size_t*) { no_cuda(); }
std::map<std::string, std::string> library_versions() { return {}; }

void gemm(bool, bool, int, int, int, float, const float*, const float*, float, float*) { no_cuda(); }
void gemm_ld(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int) { no_cuda(); }
void gemv(bool, int, int, float, const float*, const float*, float, float*) { no_cuda(); }
void set(int64_t, float, float*) { no_cuda(); }
void copy(int64_t, const float*, float*) { no_cuda(); }
void copy2d(int, int, const float*, int64_t, float*, int64_t) { no_cuda(); }
void axpy(int64_t, float, const float*, float*) { no_cuda(); }
void scale(int64_t, float, float*) { no_cuda(); }
void scaled_copy(int64_t, float, const float*, float*) { no_cuda(); }
double dot(int64_t, const float*, const float*) { no_cuda(); }
double asum(int64_t, const float*) { no_cuda(); }
const float* ones(int64_t) { no_cuda(); }

void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }

Buffer::~Buffer() {}
void* Buffer::get(size_t) { no_cuda(); }

}  // namespace gpu
}  // namespace pycolorize
#endif
