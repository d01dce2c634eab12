// parallel/parallel.h: what the solver needs from data-parallel training (pycolorize/distributed.py
// sets it up): this process's place among the ranks, and the hooks that sum gradients across them.
//
// Each of N ranks runs the same net on B/N of the global batch B. The solver calls reduce() after
// each layer's backward pass (of the last of the iter_size passes) with the parameters whose
// gradient is then final on this rank, so the communication of the layers above runs while the
// layers below still compute (Caffe 1.0's layer_wise_reduce; a backend may bucket them). Before
// updating parameter p it calls wait(p), and only for p: the update of the top layers can start
// while the sums of the bottom ones are still under way. The diffs then hold the sum over ranks;
// the solver divides by N * iter_size (the mean over the global batch) in its update.
#pragma once

#include <cstdint>
#include <vector>

namespace pycolorize {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int world_size() const = 0;
  // The diffs of these parameters (indices into Net::params(), owners only) are final on this
  // rank: start summing them across ranks, in place.
  virtual void reduce(const std::vector<int>& params) = 0;
  // Return once parameter p's diff holds the sum (on a GPU: once the device's next work is
  // ordered after it). A parameter never passed to reduce() returns at once.
  virtual void wait(int param) = 0;
  // After the update: every sum started this iteration has completed; a peer that died or hangs
  // surfaces here (or in wait) as an Error within the backend's timeout.
  virtual void finish() = 0;
};

namespace parallel {

// This process's rank and the number of ranks splitting each batch (0 and 1 in a single process).
// Dropout keys its mask by the element's index in the global batch, rank * count + i, so that the
// mask of a sample does not depend on how many ranks share the batch.
int rank();
int world_size();
void set_shard(int rank, int world_size);

}  // namespace parallel
}  // namespace pycolorize
