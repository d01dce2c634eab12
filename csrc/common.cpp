// common.cpp: the process-wide runtime (mode, device, RNG, threads).
#include "common.h"

#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <fstream>

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

std::string utf8_escaped(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    // Sequence length from the lead byte; C0, C1 and F5..FF never start one (overlong or too big).
    const size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    unsigned cp = c & (0x7F >> (n > 1 ? n : 0));
    for (size_t k = 1; ok && k < n; ++k) {
      const unsigned char d = s[i + k];
      ok = (d & 0xC0) == 0x80;
      cp = cp << 6 | (d & 0x3F);
    }
    // Overlong three- and four-byte forms, UTF-16 surrogates and code points past U+10FFFF.
    if (ok && n == 3) ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    if (ok && n == 4) ok = cp >= 0x10000 && cp <= 0x10FFFF;
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
      ++i;
    }
  }
  return out;
}

std::string clipped(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 80) + "..."; }

namespace {
size_t g_max_alloc_bytes = 0;

// What one allocation can get: MemAvailable from /proc/meminfo (what the kernel can hand out
// without swapping or the OOM killer; the free physical pages where that file is missing), the
// room left under a cgroup v2 memory limit (a container's OOM killer works from that, not from
// MemAvailable), and the address-space limit (ulimit -v), whichever is least.
size_t allocatable_bytes() {
  size_t avail = SIZE_MAX;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  unsigned long long kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemAvailable:") {
      avail = static_cast<size_t>(kb) * 1024;
      break;
    }
    meminfo.ignore(1 << 10, '\n');
  }
  if (avail == SIZE_MAX) {
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) avail = static_cast<size_t>(pages) * static_cast<size_t>(page);
  }
  unsigned long long max = 0, current = 0;
  std::ifstream cg_max("/sys/fs/cgroup/memory.max"), cg_cur("/sys/fs/cgroup/memory.current");
  if (cg_max >> max && cg_cur >> current) {  // memory.max reads "max" when unlimited: no number
    // memory.current counts the page cache too, which the kernel reclaims before any OOM kill:
    // the working set (current less inactive file pages, as the kubelet reckons it) is what counts.
    std::ifstream stat("/sys/fs/cgroup/memory.stat");
    unsigned long long value = 0;
    while (stat >> key >> value)
      if (key == "inactive_file") {
        current -= std::min(current, value);
        break;
      }
    avail = std::min<size_t>(avail, max > current ? max - current : 0);
  }
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) avail = std::min<size_t>(avail, as.rlim_cur);
  return avail;
}
}  // namespace

void Runtime::set_max_alloc_bytes(size_t bytes) { g_max_alloc_bytes = bytes; }

void check_host_alloc(size_t bytes, const std::string& what) {
  if (g_max_alloc_bytes && bytes > g_max_alloc_bytes)
    throw Error(str(what, " needs ", bytes, " bytes, more than the limit of ", g_max_alloc_bytes, " bytes"));
  // Reading /proc/meminfo costs a few microseconds; small buffers cannot matter.
  if (bytes < (size_t(64) << 20)) return;
  const size_t avail = allocatable_bytes();
  if (bytes > avail)
    throw Error(str(what, " needs ", bytes, " bytes but only ", avail, " bytes of memory are available"));
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
void Runtime::bind_thread() {
  // Every call (a microsecond against a forward's milliseconds): another library in the process
  // may have moved this thread to another device since.
  if (g_mode == Mode::GPU) gpu::set_device(g_device);
}
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
