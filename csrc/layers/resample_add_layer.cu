// layers/resample_add_layer.cu: ResampleAdd on the GPU (layers/conv/depthwise.cu's kernels).
#include "layers/resample_add_layer.h"

namespace pycolorize {

void ResampleAddLayer::forward_gpu(const Blobs& bottom, const Blobs& top) {
  const Blob& x = source(bottom);
  depthwise_up_gpu(d_, x.count(0, 2), x.gpu_data(), blobs_[0]->gpu_data(), top[0]->mutable_gpu_data(), accumulate(bottom));
}

void ResampleAddLayer::backward_gpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  const Blob& x = source(bottom);
  depthwise_backward_gpu(d_, x.count(0, 2), top[0]->gpu_diff(), x.gpu_data(), blobs_[0]->gpu_data(),
                         propagate_down.back() ? bottom.back()->mutable_gpu_diff() : nullptr,
                         param_propagate_down(0) ? blobs_[0]->mutable_gpu_diff() : nullptr);
}

}  // namespace pycolorize
