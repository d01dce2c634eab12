// layers/conv/depthwise.h: the transposed convolution of one plane by one small kernel, for the
// single-channel-per-group Deconvolutions of the deploy nets (the bilinear upsamplers behind the
// Reshape {-1,1} trick, FCN's per-class upscore) and the projection pass's ResampleAdd.
//
// Plane pl of x (Hin x Win) and plane pl of y (Hout x Wout), kernel w of group pl % group:
//   y(oy, ox) = sum of x(iy, ix) * w(ki, kj)  over  oy = iy*sh - ph + ki*dh,  ox = ix*sw - pw + kj*dw,
// and the two gradients: dx(iy, ix) = sum of dy(oy, ox) * w(ki, kj) over the same pairs, and
// dw(ki, kj) += sum of dy(oy, ox) * x(iy, ix) over all planes of the group (summed in double).
#pragma once

#include <cstdint>

namespace pycolorize {

struct Depthwise {
  int Hin, Win, Hout, Wout, kh, kw, sh, sw, ph, pw, dh, dw, group;
};

// y = (accumulate ? y : 0) + the transposed convolution of x, for `planes` planes.
void depthwise_up_cpu(const Depthwise& d, int64_t planes, const float* x, const float* w, float* y, bool accumulate);
// dx = (when dx) the gradient w.r.t. x; dw += (when dw) the gradient w.r.t. the kernels.
void depthwise_backward_cpu(const Depthwise& d, int64_t planes, const float* dy, const float* x, const float* w,
                            float* dx, float* dw);
#ifdef USE_CUDA
void depthwise_up_gpu(const Depthwise& d, int64_t planes, const float* x, const float* w, float* y, bool accumulate);
void depthwise_backward_gpu(const Depthwise& d, int64_t planes, const float* dy, const float* x, const float* w,
                            float* dx, float* dw);
#endif

}  // namespace pycolorize
