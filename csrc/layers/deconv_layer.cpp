// layers/deconv_layer.cpp
#include "layers/deconv_layer.h"

#include <omp.h>

#include <algorithm>

#include "util/blas.h"

namespace pycolorize {

void DeconvolutionLayer::forward_cpu(const Blobs& bottom, const Blobs& top) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    if (depthwise()) {
      depthwise_forward(*bottom[i], *top[i]);
    } else {
      const float* x = bottom[i]->cpu_data();
      float* y = top[i]->mutable_cpu_data();
      for (int n = 0; n < bottom[i]->shape(0); ++n) gemm_pass_cpu(Pass::kImage, nullptr, x + n * in_dim, y + n * out_dim);
    }
    if (bias_) {
      float* y = top[i]->mutable_cpu_data();
      for (int n = 0; n < bottom[i]->shape(0); ++n) add_bias(y + n * out_dim, num_output_, top[i]->count(2));
    }
  }
}

void DeconvolutionLayer::backward_cpu(const Blobs& top, const std::vector<bool>& propagate_down, const Blobs& bottom) {
  for (size_t i = 0; i < bottom.size(); ++i) {
    const int64_t in_dim = bottom[i]->count(1), out_dim = top[i]->count(1);
    const float* dy = top[i]->cpu_diff();
    if (bias_ && param_propagate_down(1))
      for (int n = 0; n < bottom[i]->shape(0); ++n)
        bias_gradient(dy + n * out_dim, num_output_, top[i]->count(2), blobs_[1]->mutable_cpu_diff());
    if (depthwise()) {
      depthwise_backward(*top[i], propagate_down[i], *bottom[i], *bottom[i]);
      continue;
    }
    const float* x = bottom[i]->cpu_data();
    for (int n = 0; n < bottom[i]->shape(0); ++n) {
      if (param_propagate_down(0)) gemm_pass_cpu(Pass::kWeightGrad, dy + n * out_dim, x + n * in_dim, blobs_[0]->mutable_cpu_diff());
      if (propagate_down[i]) gemm_pass_cpu(Pass::kColumns, dy + n * out_dim, nullptr, bottom[i]->mutable_cpu_diff() + n * in_dim);
    }
  }
}

// One input plane per group and one output plane per group: scatter each input pixel through
// the kernel. Output row oy = iy * s - p + ki * d, column ox = ix * s - p + kj * d.
void DeconvolutionLayer::depthwise_forward(const Blob& bottom, Blob& top) {
  const ConvGeometry& g = geom_;
  const int Hin = g.out_h, Win = g.out_w, Hout = g.height, Wout = g.width;
  const int64_t planes = bottom.count(0, 2);
  const float* x = bottom.cpu_data();
  const float* w = blobs_[0]->cpu_data();
  float* y = top.mutable_cpu_data();
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * Hin * Win;
    float* yp = y + pl * Hout * Wout;
    const float* wp = w + (pl % group_) * kh_ * kw_;
    std::fill(yp, yp + static_cast<int64_t>(Hout) * Wout, 0.f);
    for (int iy = 0; iy < Hin; ++iy)
      for (int ki = 0; ki < kh_; ++ki) {
        const int oy = iy * sh_ - ph_ + ki * dh_;
        if (oy < 0 || oy >= Hout) continue;
        float* yrow = yp + static_cast<int64_t>(oy) * Wout;
        const float* wrow = wp + ki * kw_;
        for (int ix = 0; ix < Win; ++ix) {
          const float v = xp[iy * Win + ix];
          const int ox0 = ix * sw_ - pw_;
          if (ox0 >= 0 && ox0 + (kw_ - 1) * dw_ < Wout && dw_ == 1) {
            for (int kj = 0; kj < kw_; ++kj) yrow[ox0 + kj] += v * wrow[kj];
          } else {
            for (int kj = 0; kj < kw_; ++kj) {
              const int ox = ox0 + kj * dw_;
              if (ox >= 0 && ox < Wout) yrow[ox] += v * wrow[kj];
            }
          }
        }
      }
  }
}

// Gradient w.r.t. the input gathers through the kernel; the weight gradient is reduced over planes
// with per-thread accumulators.
void DeconvolutionLayer::depthwise_backward(const Blob& top, bool need_data, const Blob& bottom, Blob& bottom_out) {
  const ConvGeometry& g = geom_;
  const int Hin = g.out_h, Win = g.out_w, Hout = g.height, Wout = g.width;
  const int64_t planes = bottom.count(0, 2);
  const bool need_w = param_propagate_down(0);
  if (!need_w && !need_data) return;
  const float* dy = top.cpu_diff();
  const float* x = bottom.cpu_data();
  const float* w = blobs_[0]->cpu_data();
  float* dx = need_data ? bottom_out.mutable_cpu_diff() : nullptr;
  const int wsize = group_ * kh_ * kw_;
  std::vector<double> dw_total(wsize, 0.0);
#pragma omp parallel
  {
    std::vector<double> dw_local(need_w ? wsize : 0, 0.0);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const float* dyp = dy + pl * Hout * Wout;
      const float* xp = x + pl * Hin * Win;
      const int gi = static_cast<int>(pl % group_);
      const float* wp = w + gi * kh_ * kw_;
      for (int iy = 0; iy < Hin; ++iy)
        for (int ix = 0; ix < Win; ++ix) {
          float acc = 0.f;
          const float xv = xp[iy * Win + ix];
          for (int ki = 0; ki < kh_; ++ki) {
            const int oy = iy * sh_ - ph_ + ki * dh_;
            if (oy < 0 || oy >= Hout) continue;
            for (int kj = 0; kj < kw_; ++kj) {
              const int ox = ix * sw_ - pw_ + kj * dw_;
              if (ox < 0 || ox >= Wout) continue;
              const float d = dyp[oy * Wout + ox];
              acc += d * wp[ki * kw_ + kj];
              if (need_w) dw_local[gi * kh_ * kw_ + ki * kw_ + kj] += static_cast<double>(d) * xv;
            }
          }
          if (dx) dx[pl * Hin * Win + iy * Win + ix] = acc;
        }
    }
    if (need_w) {
#pragma omp critical
      for (int k = 0; k < wsize; ++k) dw_total[k] += dw_local[k];
    }
  }
  if (need_w) {
    float* dw = blobs_[0]->mutable_cpu_diff();
    for (int k = 0; k < wsize; ++k) dw[k] += static_cast<float>(dw_total[k]);
  }
}

REGISTER_LAYER("Deconvolution", DeconvolutionLayer);

}  // namespace pycolorize
