// layers/conv/cudnn_conv.h: convolution on cuDNN for Convolution and Deconvolution (the GPU default).
//
// Written, like base_conv_layer.h, in terms of an image side (x in cuDNN's terms) and a column
// side (y): Convolution runs x = bottom, y = top; Deconvolution (the transpose) runs x = top,
// y = bottom. The filter is (column channels, image channels / group, kh, kw) in both, so the
// weights need no reordering. Algorithms are found by timing (cudnnFind*) once per shape and math
// mode, lazily per direction, and cached; one workspace is shared by every layer (one stream).
#pragma once

#include <memory>

namespace pycolorize {

struct ConvDims {
  int N, im_c, im_h, im_w;   // image side
  int col_c, col_h, col_w;   // column side
  int kh, kw, ph, pw, sh, sw, dh, dw, group;
  bool operator<(const ConvDims& o) const;
};

class CudnnConv {
 public:
  CudnnConv();
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // (Re)builds the descriptors when the dims change; cheap when they do not.
  void prepare(const ConvDims& dims);
  void forward(const float* image, const float* w, float* columns);            // columns = conv(image)
  void backward_data(const float* columns, const float* w, float* image);      // image = conv^T(columns)
  void backward_filter(const float* image, const float* columns, float* dw);   // dw += columns (x) image
  // Bias of `channels` (= the image or the column side's channel count) on that side's tensor.
  void add_bias(const float* b, bool image_side, float* data);
  void bias_gradient(const float* diff, bool image_side, float* db);           // db += sum of diff

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pycolorize
