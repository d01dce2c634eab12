// parallel/nccl_api.cpp: see nccl_api.h.
#ifdef USE_NCCL
#include "parallel/nccl_api.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "common.h"

namespace pycolorize {

namespace {

const char* kSoname = "libnccl.so.2";
std::mutex g_mutex;
std::vector<std::string> g_paths;
std::atomic<NcclApi*> g_api{nullptr};  // set once, never freed (the library stays loaded for the process)

std::string loaded_path(void* handle) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) return map->l_name;
  return kSoname;
}

template <typename F>
void bind(void* handle, const char* name, F* out, const std::string& path) {
  void* sym = dlsym(handle, name);
  if (!sym)
    throw Error(str("NCCL: ", path, " has no ", name, " (NCCL 2.14 or later is needed for the GPU backend)"));
  *out = reinterpret_cast<F>(sym);
}

}  // namespace

bool nccl_loaded() { return g_api.load() != nullptr; }

void set_nccl_search_paths(const std::vector<std::string>& folders) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_paths = folders;
}

const NcclApi& nccl() {
  if (NcclApi* api = g_api.load(std::memory_order_acquire)) return *api;  // the polling loops' fast path
  std::lock_guard<std::mutex> lock(g_mutex);
  if (NcclApi* api = g_api.load()) return *api;
  std::vector<std::string> tried;
  void* handle = dlopen(kSoname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);  // a copy already in the process
  const bool already = handle != nullptr;
  if (!handle) tried.push_back(str(kSoname, " already loaded in this process"));
  const char* env = std::getenv("PYCOLORIZE_NCCL_LIBRARY");
  if (!handle && env && *env) {  // the user's choice: that file or an error, nothing else
    handle = dlopen(env, RTLD_NOW | RTLD_GLOBAL);
    if (!handle)
      throw Error(str("NCCL: PYCOLORIZE_NCCL_LIBRARY=", env, " cannot be loaded (", dlerror(),
                      "); unset it to use the one found with pycolorize"));
  }
  for (size_t i = 0; !handle && i < g_paths.size(); ++i) {
    const std::string path = g_paths[i] + "/" + kSoname;
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!handle) tried.push_back(str(path, " (", dlerror(), ")"));
  }
  if (!handle) {
    handle = dlopen(kSoname, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) tried.push_back(str(kSoname, " on the loader's search path (", dlerror(), ")"));
  }
  if (!handle) {
    std::string where;
    for (const auto& t : tried) where += (where.empty() ? "" : "; ") + t;
    throw Error(str("NCCL (the GPU backend of data-parallel training) could not be loaded; looked for: ", where,
                    ". Install it (pip install nvidia-nccl-cu13, or the system's), or set PYCOLORIZE_NCCL_LIBRARY "
                    "to its libnccl.so.2"));
  }
  auto api = std::make_unique<NcclApi>();
  api->path = loaded_path(handle);
  try {
    bind(handle, "ncclGetErrorString", &api->GetErrorString, api->path);
    bind(handle, "ncclGetUniqueId", &api->GetUniqueId, api->path);
    bind(handle, "ncclCommInitRankConfig", &api->CommInitRankConfig, api->path);
    bind(handle, "ncclCommGetAsyncError", &api->CommGetAsyncError, api->path);
    bind(handle, "ncclCommAbort", &api->CommAbort, api->path);
    bind(handle, "ncclCommDestroy", &api->CommDestroy, api->path);
    bind(handle, "ncclGroupStart", &api->GroupStart, api->path);
    bind(handle, "ncclGroupEnd", &api->GroupEnd, api->path);
    bind(handle, "ncclAllReduce", &api->AllReduce, api->path);
    bind(handle, "ncclBroadcast", &api->Broadcast, api->path);
  } catch (...) {
    // an NCCL too old for us is not left in the process, where it would serve a later `import torch`
    if (!already) dlclose(handle);
    throw;
  }
  g_api.store(api.release(), std::memory_order_release);
  return *g_api.load();
}

}  // namespace pycolorize
#endif  // USE_NCCL
