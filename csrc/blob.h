// blob.h: an N-d float32 array with two buffers, data (values) and diff (gradients), each kept in
// sync between host and device (Caffe's Blob). Row-major, so a 4-d blob is (N, C, H, W).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "syncedmem.h"

namespace pycolorize {

class Blob {
 public:
  Blob() = default;
  explicit Blob(const std::vector<int>& shape) { reshape(shape); }

  // Changes the shape; memory is reallocated only when the count grows beyond the capacity.
  // Old buffers stay alive for whoever still holds them (e.g. NumPy arrays). Throws Error (and
  // changes nothing) for a negative dimension, more than INT_MAX elements, or a buffer larger than
  // the memory available (check_host_alloc in common.h).
  void reshape(const std::vector<int>& shape);
  void reshape_like(const Blob& other) { reshape(other.shape()); }

  const std::vector<int>& shape() const { return shape_; }
  int shape(int axis) const { return shape_[canonical_axis(axis)]; }
  int num_axes() const { return static_cast<int>(shape_.size()); }
  int64_t count() const { return count_; }
  int64_t count(int start, int end) const;  // product of dims [start, end)
  int64_t count(int start) const { return count(start, num_axes()); }
  // Maps a possibly negative axis to [0, num_axes); throws when out of range.
  int canonical_axis(int axis) const;
  std::string shape_string() const;

  const float* cpu_data() const;
  const float* cpu_diff() const;
  float* mutable_cpu_data();
  float* mutable_cpu_diff();
  const float* gpu_data() const;
  const float* gpu_diff() const;
  float* mutable_gpu_data();
  float* mutable_gpu_diff();

  // The underlying buffers, shared with NumPy arrays so that they outlive a reshape or the net.
  const std::shared_ptr<SyncedMemory>& data() const { return data_; }
  const std::shared_ptr<SyncedMemory>& diff() const { return diff_; }

  // Make this blob's data `mem` (at least count() floats), e.g. a slice of Net's reuse arena.
  void set_data_memory(std::shared_ptr<SyncedMemory> mem);
  // Make this blob view another blob's buffers (counts must match).
  void share_data(const Blob& other);
  void share_diff(const Blob& other);

 private:
  std::vector<int> shape_;
  int64_t count_ = 0;
  int64_t capacity_ = 0;
  std::shared_ptr<SyncedMemory> data_;
  std::shared_ptr<SyncedMemory> diff_;
};

}  // namespace pycolorize
