// util/gpu.h: the CUDA memory plumbing behind SyncedMemory. Implemented in gpu.cu when the build
// has CUDA, and in gpu_none.cpp otherwise (where every allocation throws a clear Error).
#pragma once

#include <cstddef>
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

}  // namespace gpu
}  // namespace pycolorize
