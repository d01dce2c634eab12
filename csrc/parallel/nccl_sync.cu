// parallel/nccl_sync.cu: see nccl_sync.h.
#ifdef USE_NCCL
#include "parallel/nccl_sync.h"

#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "parallel/nccl_api.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
using Clock = std::chrono::steady_clock;
}

struct NcclSync::Impl {
  int rank = 0, world = 1;
  double timeout_s = 300;
  std::shared_ptr<Net> net;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;  // the communication stream
  cudaEvent_t ready = nullptr;    // recorded on the compute stream before each reduce
  cudaEvent_t idle = nullptr;     // the end of an iteration's (or a host call's) work
  std::vector<cudaEvent_t> done;  // per parameter: its sum has landed
  std::vector<bool> pending;
  double* staging = nullptr;      // device buffer of the host calls
  size_t staging_bytes = 0;
  bool aborted = false;

  [[noreturn]] void fail(const std::string& what) {
    abort_comm();
    throw Error(str("NCCL rank ", rank, " of ", world, ": ", what,
                    "; a rank died, hangs or failed: stopping (the other ranks stop within their timeout)"));
  }
  void abort_comm() {
    if (comm && !aborted) nccl().CommAbort(comm);
    aborted = true;
  }
  // A non-blocking communicator's call may return ncclInProgress: poll its state until it settles.
  void settle(ncclResult_t r, const char* call) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (r == ncclInProgress) {
      if (Clock::now() > deadline) fail(str(call, " did not complete in ", timeout_s, " s"));
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      nccl().CommGetAsyncError(comm, &r);
    }
    if (r != ncclSuccess) fail(str(call, ": ", nccl().GetErrorString(r)));
  }
  // Waits on the host for `ev`, checking NCCL's error state, at most timeout_s seconds.
  void host_wait(cudaEvent_t ev, const char* what) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      const cudaError_t e = cudaEventQuery(ev);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) fail(str(what, ": ", cudaGetErrorString(e)));
      ncclResult_t r = ncclSuccess;
      nccl().CommGetAsyncError(comm, &r);
      if (r != ncclSuccess && r != ncclInProgress) fail(str(what, ": ", nccl().GetErrorString(r)));
      if (Clock::now() > deadline) fail(str("waited ", timeout_s, " s for ", what));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  double* stage(size_t bytes) {
    if (bytes > staging_bytes) {
      if (staging) CUDA_CHECK(cudaFree(staging));
      CUDA_CHECK(cudaMalloc(&staging, bytes));
      staging_bytes = bytes;
    }
    return staging;
  }
};

std::string nccl_unique_id() {
  ncclUniqueId id;
  const ncclResult_t r = nccl().GetUniqueId(&id);
  if (r != ncclSuccess) throw Error(str("ncclGetUniqueId: ", nccl().GetErrorString(r)));
  return std::string(id.internal, sizeof(id.internal));
}

NcclSync::NcclSync(const std::string& unique_id, int rank, int world_size, std::shared_ptr<Net> net, double timeout_s)
    : impl_(new Impl) {
  Impl& m = *impl_;
  PYC_CHECK(unique_id.size() == NCCL_UNIQUE_ID_BYTES, "NCCL unique id: ", unique_id.size(), " bytes, not ",
            NCCL_UNIQUE_ID_BYTES);
  PYC_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "NCCL: rank ", rank, " of ", world_size);
  m.rank = rank;
  m.world = world_size;
  m.timeout_s = timeout_s;
  m.net = std::move(net);
  ncclUniqueId id;
  std::memcpy(id.internal, unique_id.data(), NCCL_UNIQUE_ID_BYTES);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // every call returns; settle() bounds the wait
  m.settle(nccl().CommInitRankConfig(&m.comm, world_size, id, rank, &config), "ncclCommInitRank (joining the ranks)");
  // Non-blocking: the legacy default stream, where all of pycolorize's kernels run, would
  // otherwise serialise with it.
  CUDA_CHECK(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  CUDA_CHECK(cudaEventCreateWithFlags(&m.ready, cudaEventDisableTiming));
  CUDA_CHECK(cudaEventCreateWithFlags(&m.idle, cudaEventDisableTiming));
  m.done.resize(m.net->params().size());
  m.pending.assign(m.done.size(), false);
  for (auto& e : m.done) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
}

NcclSync::~NcclSync() {
  Impl& m = *impl_;
  if (m.comm) {
    if (m.aborted)
      ;  // ncclCommAbort released it
    else
      nccl().CommDestroy(m.comm);
  }
  for (auto& e : m.done) cudaEventDestroy(e);
  if (m.ready) cudaEventDestroy(m.ready);
  if (m.idle) cudaEventDestroy(m.idle);
  if (m.stream) cudaStreamDestroy(m.stream);
  if (m.staging) cudaFree(m.staging);
}

int NcclSync::world_size() const { return impl_->world; }
int NcclSync::rank() const { return impl_->rank; }

void NcclSync::reduce(const std::vector<int>& params) {
  Impl& m = *impl_;
  if (m.aborted) m.fail("the communicator was aborted");
  CUDA_CHECK(cudaEventRecord(m.ready, cudaStreamLegacy));
  CUDA_CHECK(cudaStreamWaitEvent(m.stream, m.ready, 0));
  m.settle(nccl().GroupStart(), "ncclGroupStart");
  for (int p : params) {
    Blob& b = *m.net->params()[p];
    m.settle(nccl().AllReduce(b.gpu_diff(), b.mutable_gpu_diff(), b.count(), ncclFloat, ncclSum, m.comm, m.stream),
             "ncclAllReduce");
  }
  m.settle(nccl().GroupEnd(), "ncclGroupEnd (the gradients' all-reduce)");
  for (int p : params) {
    CUDA_CHECK(cudaEventRecord(m.done[p], m.stream));
    m.pending[p] = true;
  }
}

void NcclSync::wait(int param) {
  Impl& m = *impl_;
  if (!m.pending[param]) return;
  CUDA_CHECK(cudaStreamWaitEvent(cudaStreamLegacy, m.done[param], 0));
  m.pending[param] = false;
}

void NcclSync::finish() {
  Impl& m = *impl_;
  for (size_t p = 0; p < m.pending.size(); ++p)
    if (m.pending[p]) wait(static_cast<int>(p));
  CUDA_CHECK(cudaEventRecord(m.idle, cudaStreamLegacy));
  m.host_wait(m.idle, "the gradients' all-reduce and the update");
}

void NcclSync::broadcast_params(int root) {
  Impl& m = *impl_;
  CUDA_CHECK(cudaEventRecord(m.ready, cudaStreamLegacy));
  CUDA_CHECK(cudaStreamWaitEvent(m.stream, m.ready, 0));
  m.settle(nccl().GroupStart(), "ncclGroupStart");
  const auto& params = m.net->params();
  for (size_t p = 0; p < params.size(); ++p) {
    if (m.net->param_owners()[p] >= 0) continue;  // shared: its owner carries it
    Blob& b = *params[p];
    m.settle(nccl().Broadcast(b.gpu_data(), b.mutable_gpu_data(), b.count(), ncclFloat, root, m.comm, m.stream),
             "ncclBroadcast");
  }
  m.settle(nccl().GroupEnd(), "ncclGroupEnd (the weights' broadcast)");
  CUDA_CHECK(cudaEventRecord(m.idle, m.stream));
  m.host_wait(m.idle, "the weights' broadcast from rank 0");
}

void NcclSync::allreduce_host(double* data, size_t n) {
  Impl& m = *impl_;
  double* d = m.stage(n * sizeof(double));
  CUDA_CHECK(cudaMemcpyAsync(d, data, n * sizeof(double), cudaMemcpyHostToDevice, m.stream));
  m.settle(nccl().AllReduce(d, d, n, ncclDouble, ncclSum, m.comm, m.stream), "ncclAllReduce");
  CUDA_CHECK(cudaMemcpyAsync(data, d, n * sizeof(double), cudaMemcpyDeviceToHost, m.stream));
  CUDA_CHECK(cudaEventRecord(m.idle, m.stream));
  m.host_wait(m.idle, "an all-reduce of the ranks' losses and flags");
}

void NcclSync::broadcast_host(void* data, size_t bytes, int root) {
  Impl& m = *impl_;
  void* d = m.stage(bytes);
  CUDA_CHECK(cudaMemcpyAsync(d, data, bytes, cudaMemcpyHostToDevice, m.stream));
  m.settle(nccl().Broadcast(d, d, bytes, ncclUint8, root, m.comm, m.stream), "ncclBroadcast");
  CUDA_CHECK(cudaMemcpyAsync(data, d, bytes, cudaMemcpyDeviceToHost, m.stream));
  CUDA_CHECK(cudaEventRecord(m.idle, m.stream));
  m.host_wait(m.idle, "a broadcast from rank 0");
}

void NcclSync::abort() { impl_->abort_comm(); }

}  // namespace pycolorize
#endif  // USE_NCCL
