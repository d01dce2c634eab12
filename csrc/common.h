// common.h: errors, checks, the global mode (CPU/GPU), the random generator and threading knobs.
//
// Every failure of user input throws pycolorize::Error with a message that names the file, line,
// layer or shape at fault; the bindings turn it into a Python exception. Nothing aborts the process.
#pragma once

#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Marks element-wise code that the CPU loop and the CUDA kernel share (one definition for both).
#ifdef __CUDACC__
#define PYC_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PYC_HOST_DEVICE inline
#endif

namespace pycolorize {

// `s` with every byte that is not part of valid UTF-8 written as \xNN. Messages quote tokens from
// files of any encoding, and the bindings decode what() as UTF-8: one stray byte would turn the
// error into a UnicodeDecodeError.
std::string utf8_escaped(const std::string& s);
// A token quoted in a message, cut to its first 80 bytes and "...": a megabyte-long token from a
// stranger's file keeps the message readable.
std::string clipped(const std::string& s);

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(utf8_escaped(what)) {}
};

// Streams all arguments into one string: str("layer ", name, " has ", n, " bottoms").
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

std::string shape_string(const std::vector<int>& shape);  // "(2, 3, 4)"

#define PYC_CHECK(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) throw ::pycolorize::Error(::pycolorize::str(__VA_ARGS__)); \
  } while (0)

enum class Mode { CPU, GPU };
enum class Phase { TRAIN = 0, TEST = 1 };

// Process-wide settings, as in Caffe's singleton.
struct Runtime {
  static Mode mode();
  static void set_mode(Mode m);
  static int device();
  static void set_device(int id);        // throws when CUDA is absent or id is out of range
  // In GPU mode, makes the selected device the calling thread's current one. The mode and device
  // are the process's, but CUDA's current device is each thread's: a net run from another thread
  // than the one that chose the device (a web server's worker threads) would otherwise launch on
  // device 0 with buffers on the chosen one. Net's forward/backward and Solver::step call it.
  static void bind_thread();
  static std::mt19937_64& rng();         // used by fillers and Dropout
  static void set_random_seed(uint64_t seed);
  static int num_threads();              // OpenMP threads for element-wise loops
  static void set_num_threads(int n);    // also sets OpenBLAS's pool
  // A cap on one host allocation in bytes (0, the default: none beyond the machine's available
  // memory). The fuzzer sets one so that big-but-possible blobs stay within its memory limit.
  static void set_max_alloc_bytes(size_t bytes);
};

// Throws Error when a host buffer of `bytes` should not be attempted: more than the memory the
// machine has available now (so the process gets an error, not the OOM killer) or than the cap.
// `what` names the buffer in the message, e.g. "blob (1000, 1000, 1000)".
void check_host_alloc(size_t bytes, const std::string& what);

bool cuda_compiled();
int gpu_count();                 // 0 when CUDA is absent or no device is visible
std::string gpu_name(int id);

}  // namespace pycolorize
