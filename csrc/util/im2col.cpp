// util/im2col.cpp
#include "util/im2col.h"

#include <algorithm>
#include <cstring>

namespace pycolorize {

void im2col_band(const float* im, const ConvGeometry& g, int oh0, int oh1, float* col, long ld) {
  const int K = g.channels * g.kernel_h * g.kernel_w;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < K; ++r) {
    const int j = r % g.kernel_w;
    const int i = (r / g.kernel_w) % g.kernel_h;
    const int c = r / (g.kernel_w * g.kernel_h);
    const float* plane = im + static_cast<long>(c) * g.height * g.width;
    float* out = col + r * ld;
    for (int oh = oh0; oh < oh1; ++oh, out += g.out_w) {
      const int ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
      if (ih < 0 || ih >= g.height) {
        std::memset(out, 0, sizeof(float) * g.out_w);
        continue;
      }
      const float* row = plane + static_cast<long>(ih) * g.width;
      const int off = j * g.dilation_w - g.pad_w;
      if (g.stride_w == 1) {
        // valid ow: 0 <= ow + off < width
        int lo = off < 0 ? -off : 0;
        int hi = g.width - off;
        if (hi > g.out_w) hi = g.out_w;
        if (hi < lo) hi = lo;
        for (int ow = 0; ow < lo && ow < g.out_w; ++ow) out[ow] = 0.f;
        if (hi > lo) std::memcpy(out + lo, row + lo + off, sizeof(float) * (hi - lo));
        for (int ow = hi; ow < g.out_w; ++ow) out[ow] = 0.f;
      } else {
        for (int ow = 0; ow < g.out_w; ++ow) {
          const int iw = ow * g.stride_w + off;
          out[ow] = (iw >= 0 && iw < g.width) ? row[iw] : 0.f;
        }
      }
    }
  }
}

void col2im_band(const float* col, const ConvGeometry& g, int oh0, int oh1, float* im, long ld) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < g.channels; ++c) {
    float* plane = im + static_cast<long>(c) * g.height * g.width;
    for (int i = 0; i < g.kernel_h; ++i) {
      for (int j = 0; j < g.kernel_w; ++j) {
        const int r = (c * g.kernel_h + i) * g.kernel_w + j;
        const float* in = col + r * ld;
        const int off = j * g.dilation_w - g.pad_w;
        for (int oh = oh0; oh < oh1; ++oh, in += g.out_w) {
          const int ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
          if (ih < 0 || ih >= g.height) continue;
          float* row = plane + static_cast<long>(ih) * g.width;
          if (g.stride_w == 1) {  // the valid ow, 0 <= ow + off < width, are one range: a plain vector add
            const int lo = std::max(0, -off), hi = std::min(g.out_w, g.width - off);
            for (int ow = lo; ow < hi; ++ow) row[ow + off] += in[ow];
            continue;
          }
          for (int ow = 0; ow < g.out_w; ++ow) {
            const int iw = ow * g.stride_w + off;
            if (iw >= 0 && iw < g.width) row[iw] += in[ow];
          }
        }
      }
    }
  }
}

int kernel_rows_span(const ConvGeometry& g, int oh0, int oh1) { return oh1 - oh0 + (g.kernel_h - 1) * g.dilation_h; }

void im2col_rows_band(const float* im, const ConvGeometry& g, int oh0, int oh1, float* rows, long ld) {
  const int span = kernel_rows_span(g, oh0, oh1);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < g.channels * g.kernel_w; ++r) {
    const int c = r / g.kernel_w, off = (r % g.kernel_w) * g.dilation_w - g.pad_w;
    const float* plane = im + static_cast<long>(c) * g.height * g.width;
    float* out = rows + r * ld;
    // the output columns whose input column ow * stride_w + off lies inside the image
    const int lo = std::min(g.out_w, off < 0 ? (-off + g.stride_w - 1) / g.stride_w : 0);
    const int hi = std::max(lo, std::min(g.out_w, g.width - off > 0 ? (g.width - off - 1) / g.stride_w + 1 : 0));
    for (int hr = oh0; hr < oh0 + span; ++hr, out += g.out_w) {
      const int ih = hr - g.pad_h;
      if (ih < 0 || ih >= g.height) {
        std::memset(out, 0, sizeof(float) * g.out_w);
        continue;
      }
      const float* row = plane + static_cast<long>(ih) * g.width;
      std::fill(out, out + lo, 0.f);
      if (g.stride_w == 1) {
        if (hi > lo) std::memcpy(out + lo, row + lo + off, sizeof(float) * (hi - lo));
      } else
        for (int ow = lo; ow < hi; ++ow) out[ow] = row[ow * g.stride_w + off];
      std::fill(out + hi, out + g.out_w, 0.f);
    }
  }
}

void col2im_rows_band(const float* rows, const ConvGeometry& g, int oh0, int oh1, float* im, long ld) {
  const int span = kernel_rows_span(g, oh0, oh1);
#pragma omp parallel for schedule(static)
  for (int c = 0; c < g.channels; ++c) {
    float* plane = im + static_cast<long>(c) * g.height * g.width;
    for (int j = 0; j < g.kernel_w; ++j) {
      const int off = j * g.dilation_w - g.pad_w;
      const int lo = std::min(g.out_w, off < 0 ? (-off + g.stride_w - 1) / g.stride_w : 0);
      const int hi = std::max(lo, std::min(g.out_w, g.width - off > 0 ? (g.width - off - 1) / g.stride_w + 1 : 0));
      const float* in = rows + (c * g.kernel_w + j) * ld;
      for (int hr = oh0; hr < oh0 + span; ++hr, in += g.out_w) {
        const int ih = hr - g.pad_h;
        if (ih < 0 || ih >= g.height) continue;
        float* row = plane + static_cast<long>(ih) * g.width;
        if (g.stride_w == 1)
          for (int ow = lo; ow < hi; ++ow) row[ow + off] += in[ow];
        else
          for (int ow = lo; ow < hi; ++ow) row[ow * g.stride_w + off] += in[ow];
      }
    }
  }
}

}  // namespace pycolorize
