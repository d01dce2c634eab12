// layers/softmax_loss_layer.cu: SoftmaxWithLoss on the GPU. Per-position losses and valid flags go
// to device buffers and are summed (in double) on the way back; a label outside [0, C) is reported
// with its position, as on the CPU.
#include <cfloat>

#include "layers/softmax_layer.h"
#include "layers/softmax_loss_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void nll_forward(int64_t outer, int C, int64_t inner, const float* p, const float* label, bool has_ignore,
                            int ignore, float* loss, float* valid, int64_t* bad) {
  CUDA_KERNEL_LOOP(k, outer * inner) {
    const int64_t o = k / inner, i = k % inner;
    const int l = static_cast<int>(label[k]);
    if (has_ignore && l == ignore) {
      loss[k] = 0.f;
      valid[k] = 0.f;
    } else if (l < 0 || l >= C) {
      loss[k] = 0.f;
      valid[k] = 0.f;
      atomicMin(reinterpret_cast<unsigned long long*>(bad), static_cast<unsigned long long>(k));
    } else {
      loss[k] = -logf(fmaxf(p[o * C * inner + l * inner + i], FLT_MIN));
      valid[k] = 1.f;
    }
  }
}
__global__ void nll_backward(int64_t outer, int C, int64_t inner, const float* label, bool has_ignore, int ignore,
                             float* dx) {
  CUDA_KERNEL_LOOP(k, outer * inner) {
    const int64_t o = k / inner, i = k % inner;
    const int l = static_cast<int>(label[k]);
    if (has_ignore && l == ignore) {
      for (int c = 0; c < C; ++c) dx[o * C * inner + c * inner + i] = 0.f;
    } else {
      dx[o * C * inner + l * inner + i] -= 1.f;
    }
  }
}
}  // namespace

void SoftmaxWithLossLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int C = bottom[0]->shape(axis_);
  const int64_t n = outer_ * inner_;
  float* p = prob_.mutable_gpu_data();
  softmax_gpu(bottom[0]->gpu_data(), p, outer_, C, inner_);
  const proto::Message& lp = param_.msg("loss_param");
  const bool has_ignore = lp.has("ignore_label");
  float* loss = gpu_loss_.as<float>(n);
  float* valid = gpu_count_.as<float>(n + (n % 2) + 2);
  int64_t* bad = reinterpret_cast<int64_t*>(valid + n + (n % 2));  // an 8-byte aligned slot after the flags
  const int64_t none = INT64_MAX;
  CUDA_CHECK(cudaMemcpy(bad, &none, sizeof(none), cudaMemcpyHostToDevice));
  const float* label = bottom[1]->gpu_data();
  nll_forward<<<gpu::blocks(n), gpu::kThreads>>>(outer_, C, inner_, p, label, has_ignore,
                                                 has_ignore ? lp.get_int("ignore_label") : 0, loss, valid, bad);
  CUDA_POST_LAUNCH();
  int64_t first_bad = none;
  CUDA_CHECK(cudaMemcpy(&first_bad, bad, sizeof(first_bad), cudaMemcpyDeviceToHost));
  PYC_CHECK(first_bad == none, where(), ": label ", bottom[1]->cpu_data()[first_bad], " at position ", first_bad,
            " is outside [0, ", C, ")");
  const double total = gpu::asum(n, loss);
  const int64_t count = static_cast<int64_t>(gpu::asum(n, valid));
  top[0]->mutable_cpu_data()[0] = static_cast<float>(total / normalizer(count));
  if (top.size() == 2) gpu::copy(prob_.count(), p, top[1]->mutable_gpu_data());
}

void SoftmaxWithLossLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  PYC_CHECK(!propagate_down[1], where(), ": cannot back-propagate into the labels");
  if (!propagate_down[0]) return;
  const int C = bottom[0]->shape(axis_);
  const int64_t n = outer_ * inner_;
  float* dx = bottom[0]->mutable_gpu_diff();
  gpu::copy(prob_.count(), prob_.gpu_data(), dx);
  const proto::Message& lp = param_.msg("loss_param");
  const bool has_ignore = lp.has("ignore_label");
  const float* label = bottom[1]->gpu_data();
  nll_backward<<<gpu::blocks(n), gpu::kThreads>>>(outer_, C, inner_, label, has_ignore,
                                                  has_ignore ? lp.get_int("ignore_label") : 0, dx);
  CUDA_POST_LAUNCH();
  // The valid count is the forward pass's (labels have not changed since).
  const int64_t count = static_cast<int64_t>(gpu::asum(n, gpu_count_.as<float>(n)));
  gpu::scale(prob_.count(), top[0]->cpu_diff()[0] / normalizer(count), dx);
}

}  // namespace pycolorize
