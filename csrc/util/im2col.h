// util/im2col.h: unfold image patches into columns (and back) for convolution as GEMM.
//
// Works on a band of output rows [oh0, oh1) so a convolution can stream through a large image with
// a cache-sized column buffer. The column matrix has K = C*kh*kw rows (c, i, j order, c slowest) and
// (oh1 - oh0) * Wo columns, exactly Caffe's im2col layout restricted to that band; its rows are
// `ld` floats apart (ld >= the band's columns: several images' columns side by side).
#pragma once

namespace pycolorize {

struct ConvGeometry {
  int channels, height, width;   // input image (one group's channels)
  int kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
  int out_h, out_w;
};

void im2col_band(const float* im, const ConvGeometry& g, int oh0, int oh1, float* col, long ld);
// Adds the columns back into the image (the image must be zeroed by the caller first).
void col2im_band(const float* col, const ConvGeometry& g, int oh0, int oh1, float* im, long ld);

// The kernel-row unfolding (the CPU's kernel-row convolution, layers/base_conv_layer.cpp): rows
// (c, j) for the kernel's columns only, C*kw of them (c slowest), over the input rows
// hr = oh0 .. oh1 - 1 + (kh - 1) * dilation_h of the height-padded image, out_w columns each:
//   R[c*kw + j][(hr - oh0)*out_w + ow] = im[c][hr - pad_h][ow*stride_w - pad_w + j*dilation_w]  (0 outside)
// With stride_h 1, kernel row i of the output rows [oh0, oh1) is then R's contiguous column range
// from i * dilation_h * out_w. Rows are `ld` floats apart.
int kernel_rows_span(const ConvGeometry& g, int oh0, int oh1);  // the input rows R covers
void im2col_rows_band(const float* im, const ConvGeometry& g, int oh0, int oh1, float* rows, long ld);
// Adds R back into the image (zeroed by the caller first).
void col2im_rows_band(const float* rows, const ConvGeometry& g, int oh0, int oh1, float* im, long ld);

}  // namespace pycolorize
