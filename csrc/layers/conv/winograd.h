// layers/conv/winograd.h: 3x3 convolution by Winograd's minimal filtering F(2x2, 3x3) on the CPU
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
//
// Each 2x2 block of outputs ("tile") is computed from the 4x4 block of inputs around it:
//   Y = A^T [ sum_c (G g_kc G^T) . (B^T d_c B) ] A
// so that, with the 16 positions xi of the 4x4 transformed domain, the convolution becomes 16
// independent GEMMs M_xi (K x tiles) = U_xi (K x C) * V_xi (C x tiles) (and its weight gradient 16
// GEMMs over the tiles, winograd_weight_grad): 16 multiplications per
// tile and channel pair instead of 36, 2.25x fewer than im2col's GEMM, plus the transforms, which
// are additions only (and the halves of G). Its rounding differs from direct convolution's by a few
// ulps of the sums (the transforms add and subtract neighbouring inputs); tests/test_layers.py
// checks it against the float64 reference at the same tolerance as every convolution.
//
// The tiles of all images of a call are numbered together (image, tile row, tile column) and
// processed in bands of whole tile rows, so the transformed inputs and outputs of one band stay
// in a bounded buffer and small images share a GEMM.
#pragma once

#include <cstdint>

namespace pycolorize {

struct WinogradShape {
  int images, in_channels, height, width;  // the input, N x C x H x W
  int out_channels, pad_h, pad_w;          // K; the output is (H + 2 pad_h - 2) x (W + 2 pad_w - 2)
  int out_h() const { return height + 2 * pad_h - 2; }
  int out_w() const { return width + 2 * pad_w - 2; }
};

// The transformed weights, U[xi][k][c] (16 x K x C), of Caffe-layout 3x3 weights w. With
// `transpose_flip` w is read as (C, K, 3, 3) and turned by 180 degrees: the weights of the
// convolution that computes a convolution's input gradient from its output gradient.
void winograd_weights(const float* w, int K, int C, bool transpose_flip, float* U);

// y (N x K x out_h x out_w) = the 3x3 convolution of x by the weights whose transform is U
// (winograd_weights), overwriting y. buffer_floats bounds the working buffers (a band of tiles).
void winograd_conv(const WinogradShape& s, const float* x, const float* U, float* y, int64_t buffer_floats);

// Adds to dw (K x C x 3 x 3, Caffe's layout) the weight gradient of that convolution of x, given
// the output gradient dy: dU_xi = sum over tiles of (A dY A^T)_xi (B^T d B)_xi^T, 16 GEMMs over
// the tiles, then dW = G^T dU G.
void winograd_weight_grad(const WinogradShape& s, const float* x, const float* dy, float* dw, int64_t buffer_floats);

}  // namespace pycolorize
