// solver.cu: the fused SGD update on the GPU (the same operations as sgd_update_cpu).
#include "solver.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void sgd_kernel(int64_t n, float* data, float* diff, float* history, float norm, float decay, bool l1,
                           float momentum, float rate) {
  CUDA_KERNEL_LOOP(j, n) sgd_update_element(j, data, diff, history, norm, decay, l1, momentum, rate);
}
}  // namespace

void sgd_update_gpu(int64_t n, float* data, float* diff, float* history, float norm, float decay, bool l1,
                    float momentum, float rate) {
  if (n == 0) return;
  sgd_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, data, diff, history, norm, decay, l1, momentum, rate);
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
