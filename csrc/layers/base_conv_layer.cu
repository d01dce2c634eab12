// layers/base_conv_layer.cu: the GPU side of Convolution/Deconvolution that is not cuDNN: the
// engine choice, im2col/col2im kernels for the CAFFE engine (same band layout as util/im2col.h),
// bias kernels, and direct kernels for depthwise layers (the bilinear upsamplers of the deploy net).
#include <algorithm>

#include "layers/base_conv_layer.h"
#include "layers/conv_passes.h"
#include "util/cuda.cuh"

namespace pycolorize {

namespace {
// GPU column buffers may be far larger than the CPU's cache-sized bands: 64 M floats (256 MB).
constexpr int64_t kGpuBandFloats = int64_t(1) << 26;

// One thread per (c, oh, ow) of the band writes its kh*kw column entries.
__global__ void im2col_band_kernel(int64_t n, const float* im, ConvGeometry g, int oh0, int oh1, float* col) {
  const int64_t Pb = static_cast<int64_t>(oh1 - oh0) * g.out_w;
  CUDA_KERNEL_LOOP(k, n) {
    const int ow = k % g.out_w;
    const int oh = oh0 + static_cast<int>((k / g.out_w) % (oh1 - oh0));
    const int c = static_cast<int>(k / Pb);
    const float* imc = im + static_cast<int64_t>(c) * g.height * g.width;
    float* out = col + static_cast<int64_t>(c) * g.kernel_h * g.kernel_w * Pb + (oh - oh0) * g.out_w + ow;
    for (int i = 0; i < g.kernel_h; ++i)
      for (int j = 0; j < g.kernel_w; ++j) {
        const int h = oh * g.stride_h - g.pad_h + i * g.dilation_h;
        const int w = ow * g.stride_w - g.pad_w + j * g.dilation_w;
        *out = (h >= 0 && h < g.height && w >= 0 && w < g.width) ? imc[h * g.width + w] : 0.f;
        out += Pb;
      }
  }
}

// One thread per image pixel gathers the band's columns that read it, and adds them in.
__global__ void col2im_band_kernel(int64_t n, const float* col, ConvGeometry g, int oh0, int oh1, float* im) {
  const int64_t Pb = static_cast<int64_t>(oh1 - oh0) * g.out_w;
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
        acc += col[((static_cast<int64_t>(c) * g.kernel_h + i) * g.kernel_w + j) * Pb + (oh - oh0) * g.out_w + ow];
      }
    }
    im[k] += acc;
  }
}

__global__ void bias_kernel(int64_t n, int channels, int64_t spatial, const float* b, float* y) {
  CUDA_KERNEL_LOOP(k, n) y[k] += b[(k / spatial) % channels];
}

// Depthwise transposed convolution, gathered per output pixel: out(oy, ox) sums in(iy, ix) * w(ki, kj)
// over oy = iy*s - p + ki*d (and the same along x).
struct Depthwise {
  int Hin, Win, Hout, Wout, kh, kw, sh, sw, ph, pw, dh, dw, group;
};

__global__ void depthwise_up(int64_t n, Depthwise d, const float* x, const float* w, float* y) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ox = k % d.Wout, oy = (k / d.Wout) % d.Hout;
    const int64_t pl = k / (static_cast<int64_t>(d.Wout) * d.Hout);
    const float* xp = x + pl * d.Hin * d.Win;
    const float* wp = w + (pl % d.group) * d.kh * d.kw;
    float acc = 0;
    for (int ki = 0; ki < d.kh; ++ki) {
      const int ty = oy + d.ph - ki * d.dh;
      if (ty < 0 || ty % d.sh) continue;
      const int iy = ty / d.sh;
      if (iy >= d.Hin) continue;
      for (int kj = 0; kj < d.kw; ++kj) {
        const int tx = ox + d.pw - kj * d.dw;
        if (tx < 0 || tx % d.sw) continue;
        const int ix = tx / d.sw;
        if (ix >= d.Win) continue;
        acc += xp[iy * d.Win + ix] * wp[ki * d.kw + kj];
      }
    }
    y[k] = acc;
  }
}

// Gradient w.r.t. the small side: din(iy, ix) = sum over the kernel of dout(oy, ox) * w.
__global__ void depthwise_down(int64_t n, Depthwise d, const float* dy, const float* w, float* dx) {
  CUDA_KERNEL_LOOP(k, n) {
    const int ix = k % d.Win, iy = (k / d.Win) % d.Hin;
    const int64_t pl = k / (static_cast<int64_t>(d.Win) * d.Hin);
    const float* dyp = dy + pl * d.Hout * d.Wout;
    const float* wp = w + (pl % d.group) * d.kh * d.kw;
    float acc = 0;
    for (int ki = 0; ki < d.kh; ++ki) {
      const int oy = iy * d.sh - d.ph + ki * d.dh;
      if (oy < 0 || oy >= d.Hout) continue;
      for (int kj = 0; kj < d.kw; ++kj) {
        const int ox = ix * d.sw - d.pw + kj * d.dw;
        if (ox >= 0 && ox < d.Wout) acc += dyp[oy * d.Wout + ox] * wp[ki * d.kw + kj];
      }
    }
    dx[k] = acc;
  }
}

// Weight gradient: one block per (group, ki, kj), summing in double over that group's planes.
__global__ void depthwise_weight_grad(int64_t planes, Depthwise d, const float* dy, const float* x, float* dw) {
  __shared__ double sh[gpu::kThreads];
  const int widx = blockIdx.x;
  const int gi = widx / (d.kh * d.kw), ki = (widx / d.kw) % d.kh, kj = widx % d.kw;
  const int64_t per_plane = static_cast<int64_t>(d.Hin) * d.Win;
  const int64_t nplanes = (planes - gi + d.group - 1) / d.group;
  double acc = 0;
  for (int64_t j = threadIdx.x; j < nplanes * per_plane; j += blockDim.x) {
    const int64_t pl = gi + (j / per_plane) * d.group;
    const int iy = static_cast<int>((j % per_plane) / d.Win), ix = static_cast<int>(j % d.Win);
    const int oy = iy * d.sh - d.ph + ki * d.dh, ox = ix * d.sw - d.pw + kj * d.dw;
    if (oy >= 0 && oy < d.Hout && ox >= 0 && ox < d.Wout)
      acc += static_cast<double>(dy[(pl * d.Hout + oy) * d.Wout + ox]) * x[pl * per_plane + iy * d.Win + ix];
  }
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (int s = gpu::kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) dw[widx] += static_cast<float>(sh[0]);
}
}  // namespace

bool BaseConvolutionLayer::use_cudnn() const {
  if (w_ld_) return false;  // a column view of wider weights (view_weight_columns): cuBLAS with its stride
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
// gemm_pass's GPU primitives (layers/conv_passes.h): cuBLAS and the band kernels above.
struct GpuBackend {
  static constexpr int64_t kBandFloats = kGpuBandFloats;
  gpu::Buffer& col;
  const float* weights(const Blob& w) { return w.gpu_data(); }
  float* buffer(int64_t n) { return col.as<float>(n); }
  void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
            int ldc) {
    gpu::gemm_ld(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
  void set(int64_t n, float v, float* y) { gpu::set(n, v, y); }
  void im2col(const float* im, const ConvGeometry& g, int oh0, int oh1, float* c) {
    const int64_t n = static_cast<int64_t>(g.channels) * (oh1 - oh0) * g.out_w;
    im2col_band_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, im, g, oh0, oh1, c);
    CUDA_POST_LAUNCH();
  }
  void col2im(const float* c, const ConvGeometry& g, int oh0, int oh1, float* im) {
    const int64_t n = static_cast<int64_t>(g.channels) * g.height * g.width;
    col2im_band_kernel<<<gpu::blocks(n), gpu::kThreads>>>(n, c, g, oh0, oh1, im);
    CUDA_POST_LAUNCH();
  }
};
}  // namespace

void BaseConvolutionLayer::gemm_pass_gpu(Pass pass, const float* image, const float* columns, float* out) {
  GpuBackend be{gpu_col_};
  gemm_pass(be, pass, image, columns, out);
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

void BaseConvolutionLayer::depthwise_image_from_columns_gpu(const Blob& columns, Blob& image) {
  const Depthwise d{geom_.out_h, geom_.out_w, geom_.height, geom_.width, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_, group_};
  const int64_t n = image.count();
  depthwise_up<<<gpu::blocks(n), gpu::kThreads>>>(n, d, columns.gpu_data(), blobs_[0]->gpu_data(), image.mutable_gpu_data());
  CUDA_POST_LAUNCH();
}

void BaseConvolutionLayer::depthwise_backward_gpu(const float* image_diff, const Blob& columns, bool need_data,
                                                  float* columns_diff) {
  const Depthwise d{geom_.out_h, geom_.out_w, geom_.height, geom_.width, kh_, kw_, sh_, sw_, ph_, pw_, dh_, dw_, group_};
  if (param_propagate_down(0)) {
    depthwise_weight_grad<<<group_ * kh_ * kw_, gpu::kThreads>>>(columns.count(0, 2), d, image_diff, columns.gpu_data(),
                                                                 blobs_[0]->mutable_gpu_diff());
    CUDA_POST_LAUNCH();
  }
  if (need_data) {
    const int64_t n = columns.count();
    depthwise_down<<<gpu::blocks(n), gpu::kThreads>>>(n, d, image_diff, blobs_[0]->gpu_data(), columns_diff);
    CUDA_POST_LAUNCH();
  }
}

}  // namespace pycolorize
