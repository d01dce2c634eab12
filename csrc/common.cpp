// common.cpp: the process-wide runtime (mode, device, RNG, threads).
#include "common.h"

#include <omp.h>

#include "util/blas.h"
#include "util/gpu.h"

namespace pycolorize {

std::string shape_string(const std::vector<int>& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ",";
  os << ")";
  return os.str();
}

namespace {
Mode g_mode = Mode::CPU;
int g_device = 0;
std::mt19937_64 g_rng(1701);
}  // namespace

Mode Runtime::mode() { return g_mode; }
void Runtime::set_mode(Mode m) {
  if (m == Mode::GPU) {
    PYC_CHECK(cuda_compiled(), "GPU mode requested but pycolorize was built without CUDA");
    PYC_CHECK(gpu_count() > 0, "GPU mode requested but no CUDA device is visible");
    gpu::set_device(g_device);
  }
  g_mode = m;
}
int Runtime::device() { return g_device; }
void Runtime::set_device(int id) {
  PYC_CHECK(cuda_compiled(), "set_device: pycolorize was built without CUDA");
  int n = gpu_count();
  PYC_CHECK(id >= 0 && id < n, "set_device(", id, "): ", n, " CUDA device(s) visible");
  gpu::set_device(id);
  g_device = id;
}
std::mt19937_64& Runtime::rng() { return g_rng; }
void Runtime::set_random_seed(uint64_t seed) { g_rng.seed(seed); }
int Runtime::num_threads() { return omp_get_max_threads(); }
void Runtime::set_num_threads(int n) {
  PYC_CHECK(n >= 1, "set_num_threads(", n, "): need at least 1");
  omp_set_num_threads(n);
  blas::set_num_threads(n);
}

bool cuda_compiled() { return gpu::compiled(); }
int gpu_count() { return gpu::device_count(); }
std::string gpu_name(int id) { return gpu::device_name(id); }

}  // namespace pycolorize
