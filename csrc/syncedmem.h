// syncedmem.h: one buffer with a host copy and a device copy, synchronised lazily (Caffe's
// SyncedMemory). cpu_data()/gpu_data() read; mutable_cpu_data()/mutable_gpu_data() declare that the
// caller will write, which makes that side the only valid copy.
#pragma once

#include <cstddef>
#include <memory>

namespace pycolorize {

class SyncedMemory {
 public:
  enum Head { UNINITIALIZED, AT_CPU, AT_GPU, SYNCED };
  explicit SyncedMemory(size_t bytes);
  // Host memory at `offset` bytes into `arena` (64-byte aligned), kept alive by this object; it
  // starts as the valid copy, holding whatever the arena holds (Net's memory reuse).
  SyncedMemory(size_t bytes, std::shared_ptr<void> arena, size_t offset);
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  const void* cpu_data();
  void* mutable_cpu_data();
  const void* gpu_data();
  void* mutable_gpu_data();
  Head head() const { return head_; }
  size_t size() const { return size_; }

 private:
  void to_cpu();
  void to_gpu();
  void* cpu_ptr_ = nullptr;
  std::shared_ptr<void> arena_;  // when set, cpu_ptr_ points into it and is not ours to free
  void* gpu_ptr_ = nullptr;
  size_t size_;
  Head head_ = UNINITIALIZED;
};

}  // namespace pycolorize
