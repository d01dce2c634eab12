// blob.cpp
#include "blob.h"

#include <climits>

#include "common.h"

namespace pycolorize {

void Blob::reshape(const std::vector<int>& shape) {
  // Counts are ints in the layers and BLAS (as in Caffe), so a blob holds at most INT_MAX elements;
  // the check comes before the multiplication so that the product can never overflow.
  int64_t count = 1;
  for (int d : shape) {
    PYC_CHECK(d >= 0, "blob shape ", pycolorize::shape_string(shape), " has a negative dimension");
    PYC_CHECK(d == 0 || count <= INT_MAX / d, "blob shape ", pycolorize::shape_string(shape),
              " has more than ", INT_MAX, " elements, the most a blob can hold");
    count *= d;
  }
  // Grow when needed; also resize buffers that were never touched (a net set up at one input
  // size and first run at a smaller one then holds only what it uses).
  const bool untouched = data_ && data_->head() == SyncedMemory::UNINITIALIZED &&
                         diff_->head() == SyncedMemory::UNINITIALIZED && data_.use_count() == 1 && diff_.use_count() == 1;
  const bool grow = count > capacity_ || !data_ || (untouched && count != capacity_);
  // Checked before anything changes, so a refused reshape leaves the blob as it was.
  if (grow) check_host_alloc(static_cast<size_t>(count) * sizeof(float), str("blob ", pycolorize::shape_string(shape)));
  shape_ = shape;
  count_ = count;
  if (grow) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(static_cast<size_t>(capacity_) * sizeof(float));
    diff_ = std::make_shared<SyncedMemory>(static_cast<size_t>(capacity_) * sizeof(float));
  }
}

int64_t Blob::count(int start, int end) const {
  PYC_CHECK(start >= 0 && start <= end && end <= num_axes(), "count(", start, ", ", end,
            ") out of range for a blob of shape ", shape_string());
  int64_t c = 1;
  for (int i = start; i < end; ++i) c *= shape_[i];
  return c;
}

int Blob::canonical_axis(int axis) const {
  int n = num_axes();
  PYC_CHECK(axis >= -n && axis < n, "axis ", axis, " out of range for a blob of shape ", shape_string());
  return axis < 0 ? axis + n : axis;
}

std::string Blob::shape_string() const { return pycolorize::shape_string(shape_); }

const float* Blob::cpu_data() const { return static_cast<const float*>(data_->cpu_data()); }
const float* Blob::cpu_diff() const { return static_cast<const float*>(diff_->cpu_data()); }
float* Blob::mutable_cpu_data() { return static_cast<float*>(data_->mutable_cpu_data()); }
float* Blob::mutable_cpu_diff() { return static_cast<float*>(diff_->mutable_cpu_data()); }
const float* Blob::gpu_data() const { return static_cast<const float*>(data_->gpu_data()); }
const float* Blob::gpu_diff() const { return static_cast<const float*>(diff_->gpu_data()); }
float* Blob::mutable_gpu_data() { return static_cast<float*>(data_->mutable_gpu_data()); }
float* Blob::mutable_gpu_diff() { return static_cast<float*>(diff_->mutable_gpu_data()); }

void Blob::set_data_memory(std::shared_ptr<SyncedMemory> mem) {
  PYC_CHECK(mem && mem->size() >= static_cast<size_t>(count_) * sizeof(float), "set_data_memory: ", mem ? mem->size() : 0,
            " bytes for a blob of shape ", shape_string());
  data_ = std::move(mem);
  capacity_ = count_;
}

void Blob::share_data(const Blob& other) {
  PYC_CHECK(count_ == other.count_, "share_data: counts differ, ", shape_string(), " vs ", other.shape_string());
  data_ = other.data_;
  capacity_ = std::min(capacity_, other.capacity_);
}

void Blob::share_diff(const Blob& other) {
  PYC_CHECK(count_ == other.count_, "share_diff: counts differ, ", shape_string(), " vs ", other.shape_string());
  diff_ = other.diff_;
  capacity_ = std::min(capacity_, other.capacity_);
}

}  // namespace pycolorize
