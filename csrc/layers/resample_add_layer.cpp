// layers/resample_add_layer.cpp
#include "layers/resample_add_layer.h"

#include "filler.h"
#include "util/window.h"

namespace pycolorize {

void ResampleAddLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("convolution_param");
  const WindowPair k = read_window_pair(p, "kernel_size", -1, where()), s = read_window_pair(p, "stride", 1, where()),
                   pad = read_window_pair(p, "pad", 0, where());
  const std::vector<int> dil = p.ints("dilation");
  PYC_CHECK(dil.size() <= 2, where(), ": dilation takes 1 or 2 values");
  // (bias_term defaults to true in ConvolutionParameter, as in Caffe: here only an explicit true is refused)
  PYC_CHECK((!p.has("num_output") || p.get_int("num_output") == 1) && p.get_int("group") == 1 &&
                (!p.has("bias_term") || !p.get_bool("bias_term")) && p.get_int("axis") == 1,
            where(), ": ResampleAdd resamples each channel by one single-channel kernel, without a bias: num_output 1 "
            "(or none), group 1, bias_term false (or none), axis 1");
  d_ = Depthwise{0, 0, 0, 0, k.h, k.w, s.h, s.w, pad.h, pad.w, dil.empty() ? 1 : dil[0], dil.empty() ? 1 : dil.back(), 1};
  PYC_CHECK(d_.kh > 0 && d_.kw > 0 && d_.sh > 0 && d_.sw > 0 && d_.dh > 0 && d_.dw > 0 && d_.ph >= 0 && d_.pw >= 0, where(),
            ": kernel, stride and dilation must be positive, pad not negative");
  blobs_.push_back(std::make_shared<Blob>(std::vector<int>{1, 1, d_.kh, d_.kw}));
  fill(*blobs_[0], p.msg("weight_filler"));
}

void ResampleAddLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& x = source(bottom);
  PYC_CHECK(x.num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom to resample, got ", x.shape_string());
  d_.Hin = x.shape(2), d_.Win = x.shape(3);
  d_.Hout = d_.sh * (d_.Hin - 1) + d_.dh * (d_.kh - 1) + 1 - 2 * d_.ph;
  d_.Wout = d_.sw * (d_.Win - 1) + d_.dw * (d_.kw - 1) + 1 - 2 * d_.pw;
  PYC_CHECK(d_.Hout > 0 && d_.Wout > 0, where(), ": output size (", d_.Hout, ", ", d_.Wout, ") is not positive");
  const std::vector<int> shape{x.shape(0), x.shape(1), d_.Hout, d_.Wout};
  if (accumulate(bottom)) {
    PYC_CHECK(top[0] == bottom[0], where(), ": with two bottoms the top must be the first (it adds in place)");
    PYC_CHECK(bottom[0]->shape() == shape, where(), ": resampling ", x.shape_string(), " gives (", shape[0], ", ",
              shape[1], ", ", shape[2], ", ", shape[3], "), which cannot be added to ", bottom[0]->shape_string());
  } else {
    PYC_CHECK(top[0] != bottom[0], where(), ": with one bottom it cannot run in place");
    top[0]->reshape(shape);
  }
}

void ResampleAddLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const Blob& x = source(bottom);
  depthwise_up_cpu(d_, x.count(0, 2), x.cpu_data(), blobs_[0]->cpu_data(), top[0]->mutable_cpu_data(), accumulate(bottom));
}

void ResampleAddLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  // (the first bottom, when there are two, is the top: its gradient is the top's, already in place)
  const Blob& x = source(bottom);
  depthwise_backward_cpu(d_, x.count(0, 2), top[0]->cpu_diff(), x.cpu_data(), blobs_[0]->cpu_data(),
                         propagate_down.back() ? bottom.back()->mutable_cpu_diff() : nullptr,
                         param_propagate_down(0) ? blobs_[0]->mutable_cpu_diff() : nullptr);
}

REGISTER_LAYER("ResampleAdd", ResampleAddLayer);

}  // namespace pycolorize
