// parallel/nccl_api.h: the NCCL functions the GPU backend calls, loaded with dlopen on first use.
//
// _core does not link libnccl: importing pycolorize never loads it, and a process that already has
// a copy (PyTorch's nvidia-nccl wheel, loaded by `import torch`) is served by that copy, whoever
// loaded first. The first call of nccl() looks, in order, for:
//   1. a libnccl.so.2 already loaded in this process (dlopen with RTLD_NOLOAD);
//   2. the file PYCOLORIZE_NCCL_LIBRARY names, if set (that file, or an error naming it);
//   3. the paths set_nccl_search_paths() gave (pycolorize/training/distributed.py passes the
//      nvidia-nccl wheel's lib/ folder where that wheel is installed);
//   4. libnccl.so.2 on the loader's search path (_core's RUNPATH holds the folder of the NCCL the
//      build found, LD_LIBRARY_PATH, the system's).
// It throws an Error naming every place it looked when none has the library or a symbol is missing.
#pragma once

#include <nccl.h>

#include <string>
#include <vector>

namespace pycolorize {

struct NcclApi {
  decltype(&ncclGetErrorString) GetErrorString;
  decltype(&ncclGetUniqueId) GetUniqueId;
  decltype(&ncclCommInitRankConfig) CommInitRankConfig;
  decltype(&ncclCommGetAsyncError) CommGetAsyncError;
  decltype(&ncclCommAbort) CommAbort;
  decltype(&ncclCommDestroy) CommDestroy;
  decltype(&ncclGroupStart) GroupStart;
  decltype(&ncclGroupEnd) GroupEnd;
  decltype(&ncclAllReduce) AllReduce;
  decltype(&ncclBroadcast) Broadcast;
  std::string path;  // the file the functions come from
};

// The loaded API (loading it on the first call; thread-safe).
const NcclApi& nccl();
// Whether nccl() has loaded it (a query that loads nothing).
bool nccl_loaded();
// Folders to look in after PYCOLORIZE_NCCL_LIBRARY and before the loader's search path.
void set_nccl_search_paths(const std::vector<std::string>& folders);

}  // namespace pycolorize
