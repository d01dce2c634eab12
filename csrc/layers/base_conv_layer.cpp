// layers/base_conv_layer.cpp
#include "layers/base_conv_layer.h"
#include "layers/conv/conv_passes.h"
#include "util/window.h"

#include <algorithm>
#include <atomic>

#include "filler.h"
#include "util/blas.h"

namespace pycolorize {

namespace {
constexpr int64_t kMinBandColumns = 2048;  // see band_rows
int64_t g_batch_floats = 1 << 24;  // images_per_gemm's buffer: 64 MB (fc6's 4 images at 224x224: 23 MB)
int64_t g_band_floats = 1 << 22;   // the band of columns: 16 MB, cache-sized
bool g_kernel_rows = true;         // the kernel-row strategy (set_cpu_kernel_rows)
std::atomic<int64_t> g_path_counts[3];  // cpu_path_counts
// The kernel-row strategy packs a layer's weights, and their gradient, into buffers of this many
// floats at most (32 MB each; VGG-16's largest 3x3 layer has 2.4M weights). Larger layers (fc6's
// 7x7 over 512 channels, 103M) run im2col, which reads the weights where they are.
constexpr int64_t kMaxPackedFloats = 1 << 23;

// The packed weights (0) and their gradient (1): one pair per calling thread, like the columns.
float* packed_buffer(int which, int64_t n) {
  thread_local std::vector<float> packed[2];
  std::vector<float>& b = packed[which];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

// gemm_pass's CPU primitives (layers/conv/conv_passes.h): OpenBLAS and util/im2col. The band of
// columns is one buffer per calling thread, shared by every convolution (layers run one at a time
// on a thread): a buffer per layer held ~16 MB each, 230 MB for the dense VGG-16 net.
struct CpuBackend {
  static int64_t band_floats() { return g_band_floats; }
  const float* weights(const Blob& w) { return w.cpu_data(); }
  float* buffer(int64_t n) {
    thread_local std::vector<float> col;
    if (static_cast<int64_t>(col.size()) < n) col.resize(static_cast<size_t>(n));
    return col.data();
  }
  void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb, float beta, float* C,
            int ldc) {
    blas::gemm_ld(ta, tb, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
  }
  void set(int64_t n, float v, float* y) { blas::set(n, v, y); }
  void copy2d(int rows, int cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
    for (int r = 0; r < rows; ++r) std::copy(src + r * lds, src + r * lds + cols, dst + r * ldd);
  }
  void im2col(const float* im, const ConvGeometry& g, int oh0, int oh1, float* c, int64_t ld) {
    im2col_band(im, g, oh0, oh1, c, ld);
  }
  void col2im(const float* c, const ConvGeometry& g, int oh0, int oh1, float* im, int64_t ld) {
    col2im_band(c, g, oh0, oh1, im, ld);
  }
};
}  // namespace

void BaseConvolutionLayer::layer_setup(const Blobs& bottom, const Blobs& top) {
  const proto::Message& p = param_.msg("convolution_param");
  PYC_CHECK(p.has("num_output"), where(), ": convolution_param needs num_output");
  num_output_ = p.get_int("num_output");
  group_ = p.get_int("group");
  bias_ = p.get_bool("bias_term");
  PYC_CHECK(p.get_int("axis") == 1, where(), ": only axis 1 (NCHW) is supported");
  PYC_CHECK(bottom[0]->num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom, got ", bottom[0]->shape_string());
  const WindowPair k = read_window_pair(p, "kernel_size", -1, where()), s = read_window_pair(p, "stride", 1, where()),
                   pad = read_window_pair(p, "pad", 0, where());
  kh_ = k.h, kw_ = k.w, sh_ = s.h, sw_ = s.w, ph_ = pad.h, pw_ = pad.w;
  const std::vector<int> dil = p.ints("dilation");
  PYC_CHECK(dil.size() <= 2, where(), ": dilation takes 1 or 2 values");
  dh_ = dil.empty() ? 1 : dil[0];
  dw_ = dil.empty() ? 1 : dil.back();
  PYC_CHECK(kh_ > 0 && kw_ > 0 && sh_ > 0 && sw_ > 0 && dh_ > 0 && dw_ > 0, where(), ": kernel, stride and dilation must be positive");
  PYC_CHECK(num_output_ > 0 && group_ > 0, where(), ": num_output and group must be positive");
  const int C = bottom[0]->shape(1);
  PYC_CHECK(C % group_ == 0 && num_output_ % group_ == 0, where(), ": input channels (", C, ") and num_output (", num_output_,
            ") must both be multiples of group (", group_, ")");
  im_channels_ = reverse() ? num_output_ : C;
  col_channels_ = reverse() ? C : num_output_;
  blobs_.push_back(std::make_shared<Blob>(std::vector<int>{col_channels_, im_channels_ / group_, kh_, kw_}));
  fill(*blobs_[0], p.msg("weight_filler"));
  if (bias_) {
    blobs_.push_back(std::make_shared<Blob>(std::vector<int>{num_output_}));
    fill(*blobs_[1], p.msg("bias_filler"));
  }
}

void BaseConvolutionLayer::reshape(const Blobs& bottom, const Blobs& top) {
  const Blob& b0 = *bottom[0];
  PYC_CHECK(b0.num_axes() == 4, where(), ": needs a 4-d (N, C, H, W) bottom, got ", b0.shape_string());
  const int expected_c = reverse() ? col_channels_ : im_channels_;
  PYC_CHECK(b0.shape(1) == expected_c, where(), ": bottom ", b0.shape_string(), " has ", b0.shape(1),
            " channels but the weights ", blobs_[0]->shape_string(), " expect ", expected_c);
  for (size_t i = 1; i < bottom.size(); ++i)
    PYC_CHECK(bottom[i]->shape() == b0.shape(), where(), ": bottom ", i, " has shape ", bottom[i]->shape_string(),
              " but bottom 0 has ", b0.shape_string());
  const int H = b0.shape(2), W = b0.shape(3);
  const int ekh = dh_ * (kh_ - 1) + 1, ekw = dw_ * (kw_ - 1) + 1;
  int im_h, im_w, col_h, col_w;
  if (!reverse()) {
    im_h = H;
    im_w = W;
    col_h = (H + 2 * ph_ - ekh) / sh_ + 1;
    col_w = (W + 2 * pw_ - ekw) / sw_ + 1;
    PYC_CHECK(H + 2 * ph_ >= ekh && W + 2 * pw_ >= ekw, where(), ": bottom ", b0.shape_string(),
              " plus padding is smaller than the kernel (", ekh, ", ", ekw, ")");
  } else {
    col_h = H;
    col_w = W;
    im_h = sh_ * (H - 1) + ekh - 2 * ph_;
    im_w = sw_ * (W - 1) + ekw - 2 * pw_;
    PYC_CHECK(im_h > 0 && im_w > 0, where(), ": output size (", im_h, ", ", im_w, ") is not positive");
  }
  geom_ = {im_channels_ / group_, im_h, im_w, kh_, kw_, ph_, pw_, sh_, sw_, dh_, dw_, col_h, col_w};
  is_1x1_ = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && ph_ == 0 && pw_ == 0;
  const std::vector<int> top_shape = reverse() ? std::vector<int>{b0.shape(0), num_output_, im_h, im_w}
                                               : std::vector<int>{b0.shape(0), num_output_, col_h, col_w};
  for (Blob* t : top) {
    PYC_CHECK(std::find(bottom.begin(), bottom.end(), t) == bottom.end(), where(), ": cannot run in place");
    t->reshape(top_shape);
  }
}

int BaseConvolutionLayer::band_rows(int64_t budget_floats, int64_t unfolded) const {
  const int64_t per_row = unfolded * geom_.out_w;
  const int64_t rows = std::max(budget_floats / std::max<int64_t>(per_row, 1), (kMinBandColumns + geom_.out_w - 1) / std::max(geom_.out_w, 1));  // out_w is 0 for an empty bottom
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(geom_.out_h, rows)));
}

void BaseConvolutionLayer::gemm_pass_cpu(Pass pass, const float* image, const float* columns, float* out, int images) {
  if (images == 1 && (pass == Pass::kWeightGrad ? rows_dw_ != nullptr : rows_w_ != nullptr)) {
    count_cpu_path(kKernelRows);
    kernel_rows_pass(pass, image, columns, out);
    return;
  }
  count_cpu_path(kIm2col);
  CpuBackend be;
  gemm_pass(be, pass, image, columns, out, images);
}

bool BaseConvolutionLayer::kernel_rows() const {
  return g_kernel_rows && sh_ == 1 && kh_ > 1 && blobs_[0]->count() <= kMaxPackedFloats;
}

// The packed layout of the kernel-row strategy: Caffe's weights W (col_channels, C, kh, kw) as
// [g][i][m][c*kw + j]. f(offset in W, offset in the packed copy) for each run of kw weights, the
// weight rows spread over the threads.
template <class F>
void BaseConvolutionLayer::each_packed_run(F f) const {
  const int Mg = col_channels_ / group_, C = geom_.channels, Kr = C * kw_;
#pragma omp parallel for schedule(static) if (blobs_[0]->count() > 65536)
  for (int row = 0; row < col_channels_; ++row) {
    const int g = row / Mg, m = row % Mg;
    for (int i = 0; i < kh_; ++i)
      for (int c = 0; c < C; ++c)
        f((static_cast<int64_t>(row) * C + c) * kh_ * kw_ + i * kw_, (static_cast<int64_t>(g * kh_ + i) * Mg + m) * Kr + c * kw_);
  }
}

void BaseConvolutionLayer::begin_cpu_passes(int images_per_gemm, bool weights, bool weight_grad) {
  rows_w_ = nullptr;
  rows_dw_ = nullptr;
  if (images_per_gemm != 1 || !kernel_rows()) return;
  const int64_t n = blobs_[0]->count();
  if (weights) {
    const float* src = blobs_[0]->cpu_data();
    float* w = packed_buffer(0, n);
    each_packed_run([&](int64_t caffe, int64_t packed) { std::copy(src + caffe, src + caffe + kw_, w + packed); });
    rows_w_ = w;
  }
  if (weight_grad) {
    rows_dw_ = packed_buffer(1, n);
    blas::set(n, 0.f, rows_dw_);
  }
}

void BaseConvolutionLayer::end_cpu_passes() {
  if (rows_dw_) {
    float* dst = blobs_[0]->mutable_cpu_diff();
    const float* dw = rows_dw_;
    each_packed_run([&](int64_t caffe, int64_t packed) {
      for (int j = 0; j < kw_; ++j) dst[caffe + j] += dw[packed + j];
    });
  }
  rows_w_ = nullptr;
  rows_dw_ = nullptr;
}

// One image, every group: the three passes of conv_passes.h with R = im2col_rows_band's kernel-row
// unfolding of a band of output rows [oh0, oh1) in place of im2col. R spans the band's rows plus
// halo = (kh - 1) * dilation_h more, and kernel row i's view of it starts i * dilation_h rows in:
//   kColumns     columns       = sum_i W_i * R_i
//   kImage       R_i          += W_i^T * columns, then R is added into the image
//   kWeightGrad  W_i's gradient += columns * R_i^T
void BaseConvolutionLayer::kernel_rows_pass(Pass pass, const float* image, const float* columns, float* out) {
  CpuBackend be;
  const int Mg = col_channels_ / group_, Kr = geom_.channels * kw_;
  const int out_w = geom_.out_w, P = geom_.out_h * out_w, halo = (kh_ - 1) * dh_;
  const int64_t im_g = static_cast<int64_t>(geom_.channels) * geom_.height * geom_.width;
  const int rows = band_rows(be.band_floats(), Kr);
  float* buf = be.buffer(static_cast<int64_t>(Kr) * (rows + halo) * out_w);
  for (int g = 0; g < group_; ++g) {
    const float* img = image ? image + g * im_g : nullptr;
    const float* col = columns ? columns + static_cast<int64_t>(g) * Mg * P : nullptr;
    float* col_out = pass == Pass::kColumns ? out + static_cast<int64_t>(g) * Mg * P : nullptr;
    float* img_out = pass == Pass::kImage ? out + g * im_g : nullptr;
    if (pass == Pass::kImage) be.set(im_g, 0.f, img_out);
    for (int oh0 = 0; oh0 < geom_.out_h; oh0 += rows) {
      const int oh1 = std::min(geom_.out_h, oh0 + rows), Nb = (oh1 - oh0) * out_w;
      const int ld = kernel_rows_span(geom_, oh0, oh1) * out_w;
      if (pass != Pass::kImage) im2col_rows_band(img, geom_, oh0, oh1, buf, ld);
      if (pass == Pass::kImage)  // kernel row 0 writes R's first Nb columns; the halo's start at 0
        for (int r = 0; r < Kr; ++r) std::fill(buf + static_cast<int64_t>(r) * ld + Nb, buf + static_cast<int64_t>(r + 1) * ld, 0.f);
      for (int i = 0; i < kh_; ++i) {
        const int64_t wi = static_cast<int64_t>(g * kh_ + i) * Mg * Kr;
        float* Ri = buf + i * dh_ * out_w;
        if (pass == Pass::kColumns)
          be.gemm(false, false, Mg, Nb, Kr, rows_w_ + wi, Kr, Ri, ld, i ? 1.f : 0.f, col_out + oh0 * out_w, P);
        else if (pass == Pass::kImage)
          be.gemm(true, false, Kr, Nb, Mg, rows_w_ + wi, Kr, col + oh0 * out_w, P, i ? 1.f : 0.f, Ri, ld);
        else
          be.gemm(false, true, Mg, Kr, Nb, col + oh0 * out_w, P, Ri, ld, 1.f, rows_dw_ + wi, Kr);
      }
      if (pass == Pass::kImage) col2im_rows_band(buf, geom_, oh0, oh1, img_out, ld);
    }
  }
}

void BaseConvolutionLayer::set_cpu_kernel_rows(bool on) { g_kernel_rows = on; }

void BaseConvolutionLayer::set_cpu_band_floats(int64_t floats) { g_band_floats = floats; }

int64_t BaseConvolutionLayer::cpu_band_floats() { return g_band_floats; }

void BaseConvolutionLayer::count_cpu_path(CpuPath path) { g_path_counts[path].fetch_add(1, std::memory_order_relaxed); }

std::array<int64_t, 3> BaseConvolutionLayer::cpu_path_counts(bool reset) {
  std::array<int64_t, 3> n{};
  for (int i = 0; i < 3; ++i) n[i] = reset ? g_path_counts[i].exchange(0) : g_path_counts[i].load();
  return n;
}

int BaseConvolutionLayer::images_per_gemm_cpu(int num) const { return images_per_gemm(num, g_batch_floats); }

void BaseConvolutionLayer::set_cpu_batch_floats(int64_t floats) { g_batch_floats = floats; }

int BaseConvolutionLayer::images_per_gemm(int num, int64_t budget_floats) const {
  const int64_t P = static_cast<int64_t>(geom_.out_h) * geom_.out_w;
  if (num < 2 || group_ != 1 || P >= kMinBandColumns || P == 0) return 1;
  const int64_t per_image = (static_cast<int64_t>(geom_.channels) * kh_ * kw_ + col_channels_) * P;
  const int64_t fit = budget_floats / per_image;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num, fit)));
}

void BaseConvolutionLayer::add_bias(float* data, int channels, int64_t spatial) {
  const float* b = blobs_[1]->cpu_data();
#pragma omp parallel for if (channels * spatial > 65536)
  for (int c = 0; c < channels; ++c)
    for (int64_t i = 0; i < spatial; ++i) data[c * spatial + i] += b[c];
}

void BaseConvolutionLayer::bias_gradient(const float* diff, int channels, int64_t spatial, float* db) {
#pragma omp parallel for if (channels * spatial > 65536)
  for (int c = 0; c < channels; ++c) {
    double s = 0;
    for (int64_t i = 0; i < spatial; ++i) s += diff[c * spatial + i];
    db[c] += static_cast<float>(s);
  }
}

}  // namespace pycolorize
