// util/gpu.h: the CUDA memory plumbing behind SyncedMemory. Implemented in gpu.cu when the build
// has CUDA, and in gpu_none.cpp otherwise (where every allocation throws a clear Error).
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace pycolorize {
namespace gpu {

bool compiled();
int device_count();
std::string device_name(int id);
void set_device(int id);
void* malloc(size_t bytes);
void free(void* ptr);
void memcpy_h2d(void* dst, const void* src, size_t bytes);
void memcpy_d2h(void* dst, const void* src, size_t bytes);
void memcpy_d2d(void* dst, const void* src, size_t bytes);
void memset_zero(void* ptr, size_t bytes);
void synchronize();
// Bytes held by pycolorize's own device allocations (blobs, buffers, cuDNN workspace): now and at
// the peak since the last reset. cuBLAS/cuDNN internals and the CUDA context are not included.
size_t allocated_bytes();
size_t peak_allocated_bytes();
void reset_peak();
// cudaMemGetInfo: free and total bytes on the current device (the whole process's view).
void memory_info(size_t* free_bytes, size_t* total_bytes);
// The CUDA libraries this build runs on, as they report themselves (runtime, driver, cuBLAS,
// cuDNN); empty in a build without CUDA. The driver's entry reads "none" without one.
std::map<std::string, std::string> library_versions();

}  // namespace gpu
}  // namespace pycolorize
