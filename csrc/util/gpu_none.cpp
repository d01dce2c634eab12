// util/gpu_none.cpp: the memory plumbing of a CPU-only build: no device, and a clear error if
// anything asks for GPU memory anyway.
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

void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }

Buffer::~Buffer() {}
void* Buffer::get(size_t) { no_cuda(); }

}  // namespace gpu
}  // namespace pycolorize
#endif
