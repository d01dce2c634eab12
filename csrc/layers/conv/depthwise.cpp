// layers/conv/depthwise.cpp: the CPU side of layers/conv/depthwise.h.
#include "layers/conv/depthwise.h"

#include <algorithm>
#include <vector>

namespace pycolorize {

namespace {
int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int ceil_div(int a, int b) { return -floor_div(-a, b); }

// The taps of one output phase along an axis. Output positions o = q*s + r - p (r = 0..s-1) read
// input i = q + off for each kernel index k with (r - k*d) divisible by s, off = (r - k*d) / s.
struct Phase {
  int qlo, qhi;                    // the q of the output positions in [0, size_out)
  std::vector<std::pair<int, int>> taps;  // (k, off)
};

std::vector<Phase> phases(int size_out, int k, int s, int p, int d) {
  std::vector<Phase> out(s);
  for (int r = 0; r < s; ++r) {
    Phase& ph = out[r];
    ph.qlo = ceil_div(p - r, s);
    ph.qhi = floor_div(size_out - 1 + p - r, s);
    for (int kk = 0; kk < k; ++kk) {
      const int t = r - kk * d;
      if (floor_div(t, s) * s == t) ph.taps.push_back({kk, floor_div(t, s)});
    }
  }
  return out;
}
}  // namespace

// Gathered per output row, so that each output row is written once. Along x, two orders:
//  - phases (small strides): output columns o = q*s + r - p of one phase r read input q + off
//    contiguously with one kernel weight per tap, and the inner loop over q vectorises;
//  - blocks (strides of 8 and more, no dilation): input column q feeds the s contiguous outputs
//    q*s - p + [0, s) through kernel columns r + m*s (input q - m), and the loop over r vectorises.
// The input plane is first copied into a zero-padded buffer so that neither loop has bounds checks.
// (A scatter from each input pixel wrote overlapping vectors s apart, 2-5x slower.)
void depthwise_up_cpu(const Depthwise& d, int64_t planes, const float* x, const float* w, float* y, bool accumulate) {
  const bool blocks = d.dw == 1 && d.sw >= 8;
  const std::vector<Phase> cols = phases(d.Wout, d.kw, d.sw, d.pw, d.dw);
  const int M = (d.kw + d.sw - 1) / d.sw;                                     // blocks: taps per output
  const int qa = floor_div(d.pw, d.sw), qb = floor_div(d.Wout - 1 + d.pw, d.sw);  // blocks: the q range
  int lo = 0, hi = d.Win;  // the padded row covers input columns [lo, hi)
  if (blocks) {
    lo = std::min(lo, qa - (M - 1)), hi = std::max(hi, qb + 1);
  } else {
    for (const Phase& ph : cols)
      for (const auto& t : ph.taps)
        if (ph.qlo <= ph.qhi) lo = std::min(lo, ph.qlo + t.second), hi = std::max(hi, ph.qhi + t.second + 1);
  }
  const int Wp = hi - lo;
  const int64_t tmp_size = blocks ? static_cast<int64_t>(qb - qa + 1) * d.sw : d.Wout + 1;
#pragma omp parallel
  {
    std::vector<float> pad(static_cast<size_t>(d.Hin) * Wp, 0.f), tmp(tmp_size);
    std::vector<float> wtab(blocks ? static_cast<size_t>(d.kh) * M * d.sw : 0);  // blocks: [ki][m][r]
    std::vector<std::pair<int, int>> rows;                                       // (ki, iy) of an output row
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const float* xp = x + pl * d.Hin * d.Win;
      float* yp = y + pl * d.Hout * d.Wout;
      const float* wp = w + (pl % d.group) * d.kh * d.kw;
      for (int iy = 0; iy < d.Hin; ++iy) std::copy(xp + iy * d.Win, xp + (iy + 1) * d.Win, pad.data() + iy * Wp - lo);
      if (blocks)
        for (int ki = 0; ki < d.kh; ++ki)
          for (int m = 0; m < M; ++m)
            for (int r = 0; r < d.sw; ++r) {
              const int kj = r + m * d.sw;
              wtab[(ki * M + m) * d.sw + r] = kj < d.kw ? wp[ki * d.kw + kj] : 0.f;
            }
      for (int oy = 0; oy < d.Hout; ++oy) {
        float* yrow = yp + static_cast<int64_t>(oy) * d.Wout;
        if (!accumulate) std::fill(yrow, yrow + d.Wout, 0.f);
        rows.clear();
        for (int ki = 0; ki < d.kh; ++ki) {
          const int ty = oy + d.ph - ki * d.dh;
          if (ty >= 0 && ty % d.sh == 0 && ty / d.sh < d.Hin) rows.push_back({ki, ty / d.sh});
        }
        if (rows.empty()) continue;
        if (blocks) {
          std::fill(tmp.begin(), tmp.end(), 0.f);
          for (const auto& [ki, iy] : rows)
            for (int q = qa; q <= qb; ++q)
              for (int m = 0; m < M; ++m) {
                const float xv = pad[iy * Wp + (q - m - lo)];
                const float* wv = wtab.data() + (ki * M + m) * d.sw;
                float* out = tmp.data() + static_cast<int64_t>(q - qa) * d.sw;
                for (int r = 0; r < d.sw; ++r) out[r] += wv[r] * xv;
              }
          const float* t0 = tmp.data() + (d.pw - qa * d.sw);  // tmp[0] is output column qa*s - p
          for (int ox = 0; ox < d.Wout; ++ox) yrow[ox] += t0[ox];
          continue;
        }
        for (int r = 0; r < d.sw; ++r) {
          const Phase& ph = cols[r];
          const int n = ph.qhi - ph.qlo + 1;
          if (n <= 0 || ph.taps.empty()) continue;
          float* acc = tmp.data();
          std::fill(acc, acc + n, 0.f);
          for (const auto& [ki, iy] : rows)
            for (const auto& [kj, off] : ph.taps) {
              const float wv = wp[ki * d.kw + kj];
              const float* src = pad.data() + iy * Wp + (ph.qlo + off - lo);
              for (int q = 0; q < n; ++q) acc[q] += wv * src[q];
            }
          float* out = yrow + (ph.qlo * d.sw + r - d.pw);
          for (int q = 0; q < n; ++q) out[static_cast<int64_t>(q) * d.sw] += acc[q];
        }
      }
    }
  }
}

void depthwise_backward_cpu(const Depthwise& d, int64_t planes, const float* dy, const float* x, const float* w,
                            float* dx, float* dw) {
  if (!dx && !dw) return;
  const int wsize = d.group * d.kh * d.kw;
  std::vector<double> dw_total(dw ? wsize : 0, 0.0);
#pragma omp parallel
  {
    std::vector<double> dw_local(dw ? wsize : 0, 0.0);
#pragma omp for schedule(static)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const float* dyp = dy + pl * d.Hout * d.Wout;
      const float* xp = x + pl * d.Hin * d.Win;
      const int gi = static_cast<int>(pl % d.group);
      const float* wp = w + gi * d.kh * d.kw;
      for (int iy = 0; iy < d.Hin; ++iy)
        for (int ix = 0; ix < d.Win; ++ix) {
          float acc = 0.f;
          const float xv = xp[iy * d.Win + ix];
          for (int ki = 0; ki < d.kh; ++ki) {
            const int oy = iy * d.sh - d.ph + ki * d.dh;
            if (oy < 0 || oy >= d.Hout) continue;
            for (int kj = 0; kj < d.kw; ++kj) {
              const int ox = ix * d.sw - d.pw + kj * d.dw;
              if (ox < 0 || ox >= d.Wout) continue;
              const float g = dyp[oy * d.Wout + ox];
              acc += g * wp[ki * d.kw + kj];
              if (dw) dw_local[gi * d.kh * d.kw + ki * d.kw + kj] += static_cast<double>(g) * xv;
            }
          }
          if (dx) dx[pl * d.Hin * d.Win + iy * d.Win + ix] = acc;
        }
    }
    if (dw) {
#pragma omp critical
      for (int k = 0; k < wsize; ++k) dw_total[k] += dw_local[k];
    }
  }
  if (dw)
    for (int k = 0; k < wsize; ++k) dw[k] += static_cast<float>(dw_total[k]);
}

}  // namespace pycolorize
