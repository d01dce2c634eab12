// layers/pooling_layer.cpp
#include "layers/pooling_layer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "util/window.h"
#include "util/blas.h"

namespace pycolorize {

void PoolingLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("pooling_param");
  max_ = p.get_string("pool") == "MAX";
  global_ = p.get_bool("global_pooling");
  if (!global_) {
    const WindowPair k = read_window_pair(p, "kernel_size", -1, where());
    kh_ = k.h;
    kw_ = k.w;
    PYC_CHECK(kh_ > 0 && kw_ > 0, where(), ": kernel size must be positive");
  } else {
    PYC_CHECK(!p.has("kernel_size") && !p.has("kernel_h") && !p.has("kernel_w"), where(), ": global_pooling takes no kernel size");
  }
  const WindowPair s = read_window_pair(p, "stride", 1, where()), pad = read_window_pair(p, "pad", 0, where());
  sh_ = s.h, sw_ = s.w, ph_ = pad.h, pw_ = pad.w;
  PYC_CHECK(sh_ > 0 && sw_ > 0, where(), ": stride must be positive");
  PYC_CHECK(!global_ || (ph_ == 0 && pw_ == 0 && sh_ == 1 && sw_ == 1), where(), ": global pooling needs pad 0 and stride 1");
  if (!global_) PYC_CHECK(ph_ < kh_ && pw_ < kw_, where(), ": pad (", ph_, ", ", pw_, ") must be smaller than the kernel (", kh_, ", ", kw_, ")");
  PYC_CHECK(top.size() == 1 || (top.size() == 2 && max_), where(), ": only MAX pooling has a second top (the argmax)");
}

void PoolingLayer::reshape(const Blobs& bottom, const Blobs& top) {
  PYC_CHECK(bottom[0]->num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom, got ", bottom[0]->shape_string());
  H_ = bottom[0]->shape(2);
  W_ = bottom[0]->shape(3);
  if (global_) {
    kh_ = H_;
    kw_ = W_;
  }
  const bool ceil_mode = param_.msg("pooling_param").get_string("round_mode") == "CEIL";
  auto out = [&](int size, int k, int s, int pad) {
    const double v = static_cast<double>(size + 2 * pad - k) / s;
    int o = static_cast<int>(ceil_mode ? std::ceil(v) : std::floor(v)) + 1;
    // The last window must start inside the image (or its left padding), as Caffe clips it.
    if (pad > 0 && (o - 1) * s >= size + pad) --o;
    return o;
  };
  PH_ = out(H_, kh_, sh_, ph_);
  PW_ = out(W_, kw_, sw_, pw_);
  PYC_CHECK(PH_ > 0 && PW_ > 0, where(), ": bottom ", bottom[0]->shape_string(), " is smaller than the kernel (", kh_, ", ", kw_, ")");
  const std::vector<int> shape{bottom[0]->shape(0), bottom[0]->shape(1), PH_, PW_};
  for (Blob* t : top) t->reshape(shape);
  if (max_) argmax_.resize(top[0]->count());
}

void PoolingLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  const int64_t planes = bottom[0]->count(0, 2);
  const float* x = bottom[0]->cpu_data();
  float* y = top[0]->mutable_cpu_data();
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * H_ * W_;
    float* yp = y + pl * PH_ * PW_;
    int* am = max_ ? argmax_.data() + pl * PH_ * PW_ : nullptr;
    for (int oh = 0; oh < PH_; ++oh) {
      for (int ow = 0; ow < PW_; ++ow) {
        int hs = oh * sh_ - ph_, ws = ow * sw_ - pw_;
        if (max_) {
          const int he = std::min(hs + kh_, H_), we = std::min(ws + kw_, W_);
          hs = std::max(hs, 0);
          ws = std::max(ws, 0);
          float m = -FLT_MAX;
          int arg = -1;
          for (int h = hs; h < he; ++h)
            for (int w = ws; w < we; ++w)
              if (xp[h * W_ + w] > m) {
                m = xp[h * W_ + w];
                arg = h * W_ + w;
              }
          yp[oh * PW_ + ow] = m;
          am[oh * PW_ + ow] = arg;
        } else {
          int he = std::min(hs + kh_, H_ + ph_), we = std::min(ws + kw_, W_ + pw_);
          const int area = (he - hs) * (we - ws);  // padding counts, the region past it does not
          hs = std::max(hs, 0);
          ws = std::max(ws, 0);
          he = std::min(he, H_);
          we = std::min(we, W_);
          float s = 0;
          for (int h = hs; h < he; ++h)
            for (int w = ws; w < we; ++w) s += xp[h * W_ + w];
          yp[oh * PW_ + ow] = s / area;
        }
      }
    }
  }
  if (top.size() == 2) {
    float* mask = top[1]->mutable_cpu_data();
    for (int64_t i = 0; i < top[1]->count(); ++i) mask[i] = static_cast<float>(argmax_[i]);
  }
}

void PoolingLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  if (!propagate_down[0]) return;
  const int64_t planes = bottom[0]->count(0, 2);
  const float* dy = top[0]->cpu_diff();
  float* dx = bottom[0]->mutable_cpu_diff();
  blas::set(bottom[0]->count(), 0.f, dx);
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* dyp = dy + pl * PH_ * PW_;
    float* dxp = dx + pl * H_ * W_;
    for (int oh = 0; oh < PH_; ++oh)
      for (int ow = 0; ow < PW_; ++ow) {
        const float g = dyp[oh * PW_ + ow];
        if (max_) {
          const int arg = argmax_[pl * PH_ * PW_ + oh * PW_ + ow];
          if (arg >= 0) dxp[arg] += g;
          continue;
        }
        int hs = oh * sh_ - ph_, ws = ow * sw_ - pw_;
        int he = std::min(hs + kh_, H_ + ph_), we = std::min(ws + kw_, W_ + pw_);
        const float share = g / ((he - hs) * (we - ws));
        hs = std::max(hs, 0);
        ws = std::max(ws, 0);
        he = std::min(he, H_);
        we = std::min(we, W_);
        for (int h = hs; h < he; ++h)
          for (int w = ws; w < we; ++w) dxp[h * W_ + w] += share;
      }
  }
}

REGISTER_LAYER("Pooling", PoolingLayer);

}  // namespace pycolorize
