// layers/base_conv_layer.cu: the GPU side of Convolution/Deconvolution that is not cuDNN: the
// engine choice, im2col/col2im kernels for the CAFFE engine (same band layout as util/im2col.h),
// and bias kernels. Depthwise layers run layers/conv/depthwise.cu.
#include <algorithm>

#include "layers/base_conv_layer.h"
#include "layers/conv/conv_passes.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
// GPU column buffers may be far larger than the CPU's cache-sized bands: 64 M floats (256 MB).
constexpr int64_t kGpuBandFloats = int64_t(1) << 26;

// One thread per (c, oh, ow) of the band writes its kh*kw column entries.
__global__ void im2col_band_kernel(int64_t n, const float* im, ConvGeometry g, int oh0, int oh1, float* col, int64_t ld) {
  const int64_t Pb = static_cast<int64_t>(oh1 - oh0) * g.out_w;
  CUDA_KERNEL_LOOP(k, n) {
    const int ow = k % g.out_w;
    const int oh = oh0 + static_cast<int>((k / g.out_w) % (oh1 - oh0));
    const int c = static_cast<int>(k / Pb);
    const float* imc = im + static_cast<int64_t>(c) * g.height * g.width;
    float* out = col + static_cast<int64_t>(c) * g.kernel_h * g.kernel_w * ld + (oh - oh0) * g.out_w + ow;
    for (int i = 0; i < g.kernel_h; ++i)
      for (int j = 0; j < g.kernel_w; ++j) {
        const int h = oh * g.stride_h - g.pad_h + i * g.dilation_h;
        const int w = ow * g.stride_w - g.pad_w + j * g.dilation_w;
        *out = (h >= 0 && h < g.height && w >= 0 && w < g.width) ? imc[h * g.width + w] : 0.f;
        out += ld;
      }
  }
}

// One thread per image pixel gathers the band's columns that read it, and adds them in.
__global__ void col2im_band_kernel(int64_t n, const float* col, ConvGeometry g, int oh0, int oh1, float* im, int64_t ld) {
  CUDA_KERNEL_LOOP(k, n) {
    const int w = k % g.width, h = (k / g.width) % g.height;
    const int c = static_cast<int>(k / (static_cast<int64_t>(g.width) * g.height));
    float acc = 0;
    for (int i = 0; i < g.kernel_h; ++i) {
      const int hh = h + g.pad_h - i * g.dilation_h;
      if (hh < 0 || hh % g.stride_h) continue;
      const int oh = hh / g.stride_h;
      if (oh < oh0 || oh >= oh1) continue;
      for (int j = 0; j < g.kernel_w; ++j) {
        const int ww = w + g.pad_w - j * g.dilation_w;
        if (ww < 0 || ww % g.stride_w) continue;
        const int ow = ww / g.stride_w;
        if (ow >= g.out_w) continue;
        acc += col[((static_cast<int64_t>(c) * g.kernel_h + i) * g.kernel_w + j) * ld + (oh - oh0) * g.out_w + ow];
      }
    }
    im[k] += acc;
  }
}

__global__ void bias_kernel(int64_t n, int channels, int64_t spatial, const float* b, float* y) {
  CUDA_KERNEL_LOOP(k, n) y[k] += b[(k / spatial) % channels];
}

}  // namespace

bool BaseConvolutionLayer::use_cudnn() const {
  const std::string engine = param_.msg("convolution_param").get_string("engine");
  if (engine == "CUDNN") return true;
  if (engine == "CAFFE") return false;
  return !depthwise();
}

CudnnConv& BaseConvolutionLayer::cudnn_for(const Blob& bottom) {
  if (!cudnn_) cudnn_ = std::make_shared<CudnnConv>();
  cudnn_->prepare(ConvDims{bottom.shape(0), im_channels_, geom_.height, geom_.width, col_channels_, geom_.out_h,
                           geom_.out_w, kh_, kw_, ph_, pw_, sh_, sw_, dh_, dw_, group_});
  return *cudnn_;
}

namespace {
// gemm_pass's GPU primitives (layers/conv/conv_passes.h): cuBLAS and the band kernels above.
struct GpuBackend {
  static int64_t band_floats() { return kGpuBandFloats; }
  gpu::Buffer& col;
  const float* weights(const Blob& w) { return w.gpu_data(); }
  float* buffer(int64_t n) { return col.as<float>(n); }
  void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
            int ldc) {
    gpu::gemm_ld(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
  void set(int64_t n, float v, float* y) { gpu::set(n, v, y); }
  // (batched_pass's; the GPU's layers pass one image per GEMM, so it is not reached yet)
  void copy2d(int rows, int cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
    gpu::copy2d(rows, cols, src, lds, dst, ldd);
  }
  void im2col(const float* im, const ConvGeometry& g, int oh0, int oh1, float* c, int64_t ld) {
    const int64_t n = static_cast<int64_t>(g.channels) * (oh1 - oh0) * g.out_w;
    im2col_band_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, im, g, oh0, oh1, c, ld);
    CUDA_POST_LAUNCH();
  }
  void col2im(const float* c, const ConvGeometry& g, int oh0, int oh1, float* im, int64_t ld) {
    const int64_t n = static_cast<int64_t>(g.channels) * g.height * g.width;
    col2im_band_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, c, g, oh0, oh1, im, ld);
    CUDA_POST_LAUNCH();
  }
};
}  // namespace

void BaseConvolutionLayer::gemm_pass_gpu(Pass pass, const float* image, const float* columns, float* out, int images) {
  GpuBackend be{gpu_col_};
  gemm_pass(be, pass, image, columns, out, images);
}

void BaseConvolutionLayer::add_bias_gpu(float* data, int num, int channels, int64_t spatial) {
  const int64_t n = static_cast<int64_t>(num) * channels * spatial;
  bias_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, channels, spatial, blobs_[1]->gpu_data(), data);
  CUDA_POST_LAUNCH();
}

void BaseConvolutionLayer::bias_gradient_gpu(const float* diff, int num, int channels, int64_t spatial, float* db) {
  const float* ones = gpu::ones(spatial);
  for (int i = 0; i < num; ++i) gpu::gemv(false, channels, static_cast<int>(spatial), 1.f, diff + i * channels * spatial, ones, 1.f, db);
}

}  // namespace pycolorize
