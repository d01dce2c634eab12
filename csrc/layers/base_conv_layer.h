// layers/base_conv_layer.h: what Convolution and Deconvolution share (Caffe's BaseConvolutionLayer).
//
// Both are written in terms of an "image side" and a "column side": for a convolution the image
// side is the bottom and the column side the top; a deconvolution (its transpose) swaps them. The
// weights of group g are a matrix W_g of (column channels / group) rows and
// (image channels / group * kh * kw) columns, and the three GEMMs are
//   columns  = W_g * im2col(image)                  (conv forward, deconv backward-data)
//   image   += col2im(W_g^T * columns)              (conv backward-data, deconv forward)
//   W_g     += columns * im2col(image)^T            (weight gradient of both)
// streamed over bands of column-side rows so that the column buffer stays cache-sized.
#pragma once

#include <array>
#include <vector>

#include "layer.h"
#include "layers/conv/cudnn_conv.h"
#include "layers/conv/depthwise.h"
#include "util/gpu_math.h"
#include "util/im2col.h"

namespace pycolorize {

class BaseConvolutionLayer : public Layer {
 public:
  using Layer::Layer;
  int min_bottoms() const override { return 1; }
  int min_tops() const override { return 1; }
  bool equal_bottom_top_count() const override { return true; }
  void reshape(const Blobs& bottom, const Blobs& top) override;

 protected:
  virtual bool reverse() const = 0;  // true for Deconvolution
  void layer_setup(const Blobs& bottom, const Blobs& top) override;

  // The GEMM passes over `images` consecutive images of one bottom/top pair, pointers at the first
  // one's start (layers/conv/conv_passes.h): kColumns writes out = columns = W * im2col(image); kImage
  // writes out = image = col2im(W^T * columns); kWeightGrad adds columns * im2col(image)^T to
  // out = dW. Several images go through one GEMM side by side (images_per_gemm says how many).
  enum class Pass { kColumns, kImage, kWeightGrad };
  template <class Backend>
  void gemm_pass(Backend& be, Pass pass, const float* image, const float* columns, float* out, int images);
  template <class Backend>
  void batched_pass(Backend& be, Pass pass, const float* image, const float* columns, float* out, int images);
  void gemm_pass_cpu(Pass pass, const float* image, const float* columns, float* out, int images = 1);  // OpenBLAS
  void gemm_pass_gpu(Pass pass, const float* image, const float* columns, float* out, int images = 1);  // cuBLAS (engine CAFFE)
  // How many of `num` images one GEMM should take: 1, unless an image has fewer output positions
  // than a GEMM needs to run at full speed (fc6 has 49 at 224x224); then as many as fit in
  // budget_floats of buffer (their columns and column side), so that the weights stream from
  // memory once per group of images, not once per image.
  // (The GPU runs cuDNN unless engine: CAFFE, and then one image per GEMM.)
  int images_per_gemm(int num, int64_t budget_floats) const;
  int images_per_gemm_cpu(int num) const;

  // The CPU's kernel-row strategy. Where the stride in height is 1 and the kernel has more than
  // one row, a pass over one image unfolds only the kernel's columns (im2col_rows_band: C*kw rows
  // per position, a third of im2col's C*kh*kw for 3x3) and runs one GEMM per kernel row i on a
  // shifted view of them, with W_i, kernel row i's weights, packed once per layer call; it skips
  // most of im2col's copying (VGG-16's conv1_2 to conv3_3 forward ran 7-19 % faster). Every layer
  // call brackets its gemm_pass_cpu calls with begin_cpu_passes, which packs W_i (`weights`)
  // and zeroes their packed gradient (`weight_grad`) when the call's GEMMs take one image each,
  // and end_cpu_passes, which adds that gradient into the weights' diff.
  void begin_cpu_passes(int images_per_gemm, bool weights, bool weight_grad);
  void end_cpu_passes();
  static int64_t cpu_band_floats();  // the CPU's buffer for a band of columns (or of Winograd's tiles)

 public:
  // The CPU's budget for images_per_gemm (64 MB of floats); tests shrink it to split a batch.
  static void set_cpu_batch_floats(int64_t floats);
  // Tests: the kernel-row strategy on or off (on by default), and the column buffer's band
  // budget in floats (default 2**22), to run every path and several bands on small inputs.
  static void set_cpu_kernel_rows(bool on);
  static void set_cpu_band_floats(int64_t floats);
  // Tests: how many CPU passes ran each way, {im2col, kernel rows, Winograd}, since the last reset.
  enum CpuPath { kIm2col, kKernelRows, kWinograd };
  static std::array<int64_t, 3> cpu_path_counts(bool reset);

 protected:
  static void count_cpu_path(CpuPath path);

 protected:
  void add_bias(float* data, int channels, int64_t spatial);
  void bias_gradient(const float* diff, int channels, int64_t spatial, float* db);

  // Single-channel-per-group case (e.g. the bilinear upsampling deconvolutions): direct loops
  // (layers/conv/depthwise.h) over this geometry, the column side being the small one.
  bool depthwise() const { return im_channels_ / group_ == 1 && col_channels_ / group_ == 1; }
  Depthwise depthwise_geometry() const {
    return {geom_.out_h, geom_.out_w, geom_.height, geom_.width, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_, group_};
  }

  int num_output_ = 0, group_ = 1;
  bool bias_ = true;
  int kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_;
  int im_channels_ = 0, col_channels_ = 0;  // channels on the image side and the column side
  ConvGeometry geom_{};                     // per group: image side C/group, H, W; column side Ho, Wo
  bool is_1x1_ = false;

  // ---- GPU (base_conv_layer.cu) ----
  // engine: DEFAULT = cuDNN, except depthwise layers, which run layers/conv/depthwise.cu; CUDNN =
  // cuDNN always; CAFFE = im2col + cuBLAS (and the direct kernels when depthwise).
  bool use_cudnn() const;
  CudnnConv& cudnn_for(const Blob& bottom);  // descriptors for this bottom's shape
  void add_bias_gpu(float* data, int num, int channels, int64_t spatial);          // all `num` images
  void bias_gradient_gpu(const float* diff, int num, int channels, int64_t spatial, float* db);
  gpu::Buffer gpu_col_;
  std::shared_ptr<CudnnConv> cudnn_;

 private:
  // Output rows per band: as many as fit in budget_floats of column buffer when each output
  // position unfolds into `unfolded` rows, at least kMinBandColumns positions (GEMMs need a wide
  // N to run at full speed).
  int band_rows(int64_t budget_floats, int64_t unfolded) const;
  bool kernel_rows() const;  // the kernel-row strategy applies to this layer's geometry
  template <class F>
  void each_packed_run(F f) const;  // the packed weights' layout (base_conv_layer.cpp)
  void kernel_rows_pass(Pass pass, const float* image, const float* columns, float* out);
  const float* rows_w_ = nullptr;  // this call's packed weights, [g][i][m][c*kw + j], or null
  float* rows_dw_ = nullptr;       // this call's packed weight gradient (same layout), or null
};

}  // namespace pycolorize
