// syncedmem.cpp: host memory is 64-byte aligned and zeroed on first use, as in Caffe.
#include "syncedmem.h"

#include <cstdlib>
#include <cstring>

#include "common.h"
#include "util/gpu.h"

namespace pycolorize {

SyncedMemory::SyncedMemory(size_t bytes) : size_(bytes) {}

SyncedMemory::SyncedMemory(size_t bytes, std::shared_ptr<void> arena, size_t offset)
    : cpu_ptr_(static_cast<char*>(arena.get()) + offset), arena_(std::move(arena)), size_(bytes), head_(AT_CPU) {}

SyncedMemory::~SyncedMemory() {
  if (!arena_) std::free(cpu_ptr_);
  gpu::free(gpu_ptr_);
}

void SyncedMemory::to_cpu() {
  auto alloc = [this] {
    size_t n = (size_ + 63) / 64 * 64;
    cpu_ptr_ = std::aligned_alloc(64, n ? n : 64);
    PYC_CHECK(cpu_ptr_, "out of host memory allocating ", size_, " bytes");
  };
  switch (head_) {
    case UNINITIALIZED:
      alloc();
      std::memset(cpu_ptr_, 0, size_);
      head_ = AT_CPU;
      break;
    case AT_GPU:
      if (!cpu_ptr_) alloc();
      gpu::memcpy_d2h(cpu_ptr_, gpu_ptr_, size_);
      head_ = SYNCED;
      break;
    case AT_CPU:
    case SYNCED:
      break;
  }
}

void SyncedMemory::to_gpu() {
  switch (head_) {
    case UNINITIALIZED:
      gpu_ptr_ = gpu::malloc(size_);
      gpu::memset_zero(gpu_ptr_, size_);
      head_ = AT_GPU;
      break;
    case AT_CPU:
      if (!gpu_ptr_) gpu_ptr_ = gpu::malloc(size_);
      gpu::memcpy_h2d(gpu_ptr_, cpu_ptr_, size_);
      head_ = SYNCED;
      break;
    case AT_GPU:
    case SYNCED:
      break;
  }
}

const void* SyncedMemory::cpu_data() { to_cpu(); return cpu_ptr_; }
void* SyncedMemory::mutable_cpu_data() { to_cpu(); head_ = AT_CPU; return cpu_ptr_; }
const void* SyncedMemory::gpu_data() { to_gpu(); return gpu_ptr_; }
void* SyncedMemory::mutable_gpu_data() { to_gpu(); head_ = AT_GPU; return gpu_ptr_; }

}  // namespace pycolorize
