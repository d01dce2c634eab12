// parallel/nccl_sync.h: the GPU backend of data-parallel training, on NCCL (one rank per GPU).
// Compiled when the CUDA build finds NCCL (CMakeLists.txt: the system's or the nvidia-nccl wheel);
// pycolorize/distributed.py bootstraps it from a unique id that rank 0 makes and shares (a TCP
// rendezvous at MASTER_ADDR:MASTER_PORT, or MPI under mpirun).
//
// Gradients: reduce() orders a second, non-blocking stream after the layer's backward kernels (an
// event on the compute stream) and all-reduces the layer's diffs there, in one NCCL group; wait(p)
// makes the compute stream wait for p's sum only, so the device overlaps the sums with the rest of
// backward and the first updates. finish() waits on the host for the iteration's work, polling
// NCCL's error state, and aborts the communicator with an Error naming what it waited for when a
// peer failed or nothing came for `timeout_s` seconds (no silent hang).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net.h"
#include "parallel/parallel.h"

namespace pycolorize {

class NcclSync : public GradientSync {
 public:
  // `unique_id` is the 128 bytes of rank 0's ncclUniqueId (nccl_unique_id()); the current device
  // is this rank's. Joining times out after `timeout_s` seconds.
  NcclSync(const std::string& unique_id, int rank, int world_size, std::shared_ptr<Net> net, double timeout_s);
  ~NcclSync() override;
  int world_size() const override;
  void reduce(const std::vector<int>& params) override;
  void wait(int param) override;
  void finish() override;

  int rank() const;
  // Every parameter's data (shared ones once) from `root` to all ranks.
  void broadcast_params(int root);
  // In place on host buffers: the sum over ranks of n doubles; n bytes from `root`.
  void allreduce_host(double* data, size_t n);
  void broadcast_host(void* data, size_t bytes, int root);
  // Ends this rank's part at once (ncclCommAbort): the peers' pending operations fail.
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A fresh ncclUniqueId, as 128 bytes (rank 0 makes it; the others receive it).
std::string nccl_unique_id();

}  // namespace pycolorize
