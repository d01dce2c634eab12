// layers/softmax_kld_loss_layer.cu: the GPU twin: softmax, one loss term per element summed in
// double, and the element-wise gradient.
#include <cfloat>

#include "layers/softmax_kld_loss_layer.h"
#include "layers/softmax_layer.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
__global__ void kld_terms(int64_t n, int K, int64_t inner, const float* p, const float* q, const float* m, bool xent,
                          float* terms) {
  CUDA_KERNEL_LOOP(j, n) {
    const int64_t pos = (j / (K * inner)) * inner + j % inner;
    float t = logf(fmaxf(p[j], FLT_MIN));
    if (!xent) t -= logf(fmaxf(q[j], FLT_MIN));
    terms[j] = -(m ? m[pos] : 1.f) * q[j] * t;
  }
}
__global__ void kld_backward(int64_t n, int K, int64_t inner, const float* p, const float* q, const float* m, float scale,
                             float* dx) {
  CUDA_KERNEL_LOOP(j, n) {
    const int64_t pos = (j / (K * inner)) * inner + j % inner;
    dx[j] = (m ? m[pos] : 1.f) * (p[j] - q[j]) * scale;
  }
}
}  // namespace

void SoftmaxKLDLossLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const int K = bottom[0]->shape(axis_);
  const int64_t n = bottom[0]->count();
  float* p = prob_.mutable_gpu_data();
  softmax_gpu(bottom[0]->gpu_data(), p, outer_, K, inner_);
  const float* m = bottom.size() == 3 ? bottom[2]->gpu_data() : nullptr;
  float* terms = gpu_terms_.as<float>(n);
  kld_terms<<<gpu::blocks(n), gpu::kThreads>>>(n, K, inner_, p, bottom[1]->gpu_data(), m, cross_entropy_, terms);
  CUDA_POST_LAUNCH();
  const double loss = gpu::dot(n, terms, gpu::ones(n));
  norm_ = normalizer(bottom, m ? gpu::asum(outer_ * inner_, m) : 0.0);
  top[0]->mutable_cpu_data()[0] = static_cast<float>(loss / norm_);
}

void SoftmaxKLDLossLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t b = 1; b < bottom.size(); ++b)
    PYC_CHECK(!propagate_down[b], where(), ": cannot back-propagate into the ", b == 1 ? "target" : "mask");
  if (!propagate_down[0]) return;
  const int K = bottom[0]->shape(axis_);
  const int64_t n = bottom[0]->count();
  const float* m = bottom.size() == 3 ? bottom[2]->gpu_data() : nullptr;
  kld_backward<<<gpu::blocks(n), gpu::kThreads>>>(n, K, inner_, prob_.gpu_data(), bottom[1]->gpu_data(), m,
                                                  top[0]->cpu_diff()[0] / norm_, bottom[0]->mutable_gpu_diff());
  CUDA_POST_LAUNCH();
}

}  // namespace pycolorize
