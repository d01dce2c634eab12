// layers/conv/cudnn_conv.cu: see cudnn_conv.h.
#include <map>
#include <tuple>
#include <vector>

#include "layers/conv/cudnn_conv.h"
#include "util/cuda.cuh"

namespace pycolorize {

bool ConvDims::operator<(const ConvDims& o) const {
  auto t = [](const ConvDims& d) {
    return std::make_tuple(d.N, d.im_c, d.im_h, d.im_w, d.col_c, d.col_h, d.col_w, d.kh, d.kw, d.ph, d.pw, d.sh, d.sw,
                           d.dh, d.dw, d.group);
  };
  return t(*this) < t(o);
}

namespace {
// Workspace shared by all convolutions (everything runs on one stream, one layer at a time).
gpu::Buffer& workspace() {
  static gpu::Buffer ws;
  return ws;
}
// Algorithms that need more scratch memory than this are passed over.
constexpr size_t kMaxWorkspace = size_t(2) << 30;

struct Choice {
  int algo = -1;
  size_t bytes = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
};

// Picks the fastest successful result within the workspace limit; names the direction on failure.
template <typename Perf>
Choice pick(const Perf* perf, int n, const char* what, const ConvDims& d) {
  for (int i = 0; i < n; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace)
      return {static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
  throw Error(str("cuDNN found no usable ", what, " algorithm for image (", d.N, ", ", d.im_c, ", ", d.im_h, ", ", d.im_w,
                  ") and columns (", d.N, ", ", d.col_c, ", ", d.col_h, ", ", d.col_w, ")"));
}

struct Key {
  ConvDims dims;
  bool tf32;
  bool operator<(const Key& o) const { return dims < o.dims || (!(o.dims < dims) && tf32 < o.tf32); }
};
struct Algos {
  Choice fwd, bwd_data, bwd_filter;
};
// Shared across layers: two layers with the same shapes reuse one search.
std::map<Key, Algos>& cache() {
  static std::map<Key, Algos> c;
  return c;
}
}  // namespace

struct CudnnConv::Impl {
  cudnnTensorDescriptor_t x, y, bias_x, bias_y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  ConvDims dims{};
  bool ready = false;

  Impl() {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_y));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
  }
  ~Impl() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(bias_x);
    cudnnDestroyTensorDescriptor(bias_y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
  Algos& algos() { return cache()[Key{dims, gpu::allow_tf32()}]; }
  void set_math(cudnnMathType_t m) { CUDNN_CHECK(cudnnSetConvolutionMathType(conv, m)); }
  cudnnMathType_t search_math() const { return gpu::allow_tf32() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH; }
  void* ws(size_t bytes) { return bytes ? workspace().get(bytes) : nullptr; }
};

CudnnConv::CudnnConv() : impl_(new Impl) {}
CudnnConv::~CudnnConv() = default;

void CudnnConv::prepare(const ConvDims& d) {
  Impl& m = *impl_;
  if (m.ready && !(d < m.dims) && !(m.dims < d)) return;
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d.N, d.im_c, d.im_h, d.im_w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d.N, d.col_c, d.col_h, d.col_w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.bias_x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, d.im_c, 1, 1));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.bias_y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, d.col_c, 1, 1));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(m.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, d.col_c, d.im_c / d.group, d.kh, d.kw));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(m.conv, d.ph, d.pw, d.sh, d.sw, d.dh, d.dw, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionGroupCount(m.conv, d.group));
  int n, c, h, w;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(m.conv, m.x, m.w, &n, &c, &h, &w));
  PYC_CHECK(n == d.N && c == d.col_c && h == d.col_h && w == d.col_w, "cuDNN computes output (", n, ", ", c, ", ", h, ", ",
            w, ") where the layer expects (", d.N, ", ", d.col_c, ", ", d.col_h, ", ", d.col_w, ")");
  m.dims = d;
  m.ready = true;
}

void CudnnConv::forward(const float* image, const float* w, float* columns) {
  Impl& m = *impl_;
  Choice& c = m.algos().fwd;
  if (c.algo < 0) {
    m.set_math(m.search_math());
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(gpu::cudnn(), m.x, m.w, m.conv, m.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                     &found, perf));
    c = pick(perf, found, "forward", m.dims);
  }
  m.set_math(c.math);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionForward(gpu::cudnn(), &one, m.x, image, m.w, w, m.conv,
                                      static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), m.ws(c.bytes), c.bytes, &zero, m.y,
                                      columns));
}

void CudnnConv::backward_data(const float* columns, const float* w, float* image) {
  Impl& m = *impl_;
  Choice& c = m.algos().bwd_data;
  if (c.algo < 0) {
    m.set_math(m.search_math());
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int found = 0;
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(gpu::cudnn(), m.w, m.y, m.conv, m.x,
                                                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found, perf));
    c = pick(perf, found, "backward-data", m.dims);
  }
  m.set_math(c.math);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(gpu::cudnn(), &one, m.w, w, m.y, columns, m.conv,
                                           static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), m.ws(c.bytes), c.bytes, &zero,
                                           m.x, image));
}

void CudnnConv::backward_filter(const float* image, const float* columns, float* dw) {
  Impl& m = *impl_;
  Choice& c = m.algos().bwd_filter;
  if (c.algo < 0) {
    m.set_math(m.search_math());
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int found = 0;
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(gpu::cudnn(), m.x, m.y, m.conv, m.w,
                                                            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &found, perf));
    c = pick(perf, found, "backward-filter", m.dims);
  }
  m.set_math(c.math);
  const float one = 1.f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(gpu::cudnn(), &one, m.x, image, m.y, columns, m.conv,
                                             static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), m.ws(c.bytes), c.bytes,
                                             &one, m.w, dw));
}

void CudnnConv::add_bias(const float* b, bool image_side, float* data) {
  Impl& m = *impl_;
  const float one = 1.f;
  CUDNN_CHECK(cudnnAddTensor(gpu::cudnn(), &one, image_side ? m.bias_x : m.bias_y, b, &one, image_side ? m.x : m.y, data));
}

void CudnnConv::bias_gradient(const float* diff, bool image_side, float* db) {
  Impl& m = *impl_;
  const float one = 1.f;
  CUDNN_CHECK(cudnnConvolutionBackwardBias(gpu::cudnn(), &one, image_side ? m.x : m.y, diff, &one,
                                           image_side ? m.bias_x : m.bias_y, db));
}

}  // namespace pycolorize
