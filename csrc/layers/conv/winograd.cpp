// layers/conv/winograd.cpp
#include "layers/conv/winograd.h"

#include <algorithm>
#include <cstring>
#include <cstdlib>  // (glibc's features.h, for __GLIBC__)
#include <vector>

#include "util/blas.h"

namespace pycolorize {

namespace {

// The transforms' loops run over a tile row's tiles, which the compiler vectorizes; a portable
// build (gcc, glibc: the clones are chosen through an ifunc when the library loads) gets AVX2 and
// AVX-512 copies of them too.
#if defined(__x86_64__) && !defined(__AVX2__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    defined(__GLIBC__)
#define PYC_TRANSFORM __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PYC_TRANSFORM
#endif

// One tile row of channel c: the 4 input rows it reads (zero outside the image) into rows[4][2*TW + 2],
// then V[xi][c][t0 + tw] = (B^T d B)[xi] for each tile tw, with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
PYC_TRANSFORM
void input_tile_row(const float* plane, int H, int W, int iy0, int ix0, int TW, float* rows, float* e, float* V,
                    int64_t xi_stride) {
  const int RW = 2 * TW + 2;
  for (int r = 0; r < 4; ++r) {
    float* row = rows + r * RW;
    const int iy = iy0 + r;
    std::fill(row, row + RW, 0.f);
    if (iy < 0 || iy >= H) continue;
    const int lo = std::max(0, -ix0), hi = std::min(RW, W - ix0);  // row[u] = plane[iy][ix0 + u]
    if (hi > lo) std::memcpy(row + lo, plane + static_cast<int64_t>(iy) * W + ix0 + lo, sizeof(float) * (hi - lo));
  }
  // across each row: e[r][b][tw]
  for (int r = 0; r < 4; ++r) {
    const float* row = rows + r * RW;
    float* e0 = e + (r * 4 + 0) * TW;
    float* e1 = e + (r * 4 + 1) * TW;
    float* e2 = e + (r * 4 + 2) * TW;
    float* e3 = e + (r * 4 + 3) * TW;
    for (int t = 0; t < TW; ++t) {
      const float d0 = row[2 * t], d1 = row[2 * t + 1], d2 = row[2 * t + 2], d3 = row[2 * t + 3];
      e0[t] = d0 - d2;
      e1[t] = d1 + d2;
      e2[t] = d2 - d1;
      e3[t] = d1 - d3;
    }
  }
  // down the columns: V[a*4 + b]
  for (int b = 0; b < 4; ++b) {
    const float* r0 = e + (0 * 4 + b) * TW;
    const float* r1 = e + (1 * 4 + b) * TW;
    const float* r2 = e + (2 * 4 + b) * TW;
    const float* r3 = e + (3 * 4 + b) * TW;
    float* v0 = V + (0 * 4 + b) * xi_stride;
    float* v1 = V + (1 * 4 + b) * xi_stride;
    float* v2 = V + (2 * 4 + b) * xi_stride;
    float* v3 = V + (3 * 4 + b) * xi_stride;
    for (int t = 0; t < TW; ++t) {
      v0[t] = r0[t] - r2[t];
      v1[t] = r1[t] + r2[t];
      v2[t] = r2[t] - r1[t];
      v3[t] = r1[t] - r3[t];
    }
  }
}

// One tile row of output channel k: Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1], into the output
// rows oy0, oy0 + 1 (those below out_h skipped) through out[2][2*TW].
PYC_TRANSFORM
void output_tile_row(const float* M, int64_t xi_stride, int TW, float* s, float* out, float* plane, int out_h, int out_w,
                     int oy0) {
  // across: s[a][q][tw]
  for (int a = 0; a < 4; ++a) {
    const float* m0 = M + (a * 4 + 0) * xi_stride;
    const float* m1 = M + (a * 4 + 1) * xi_stride;
    const float* m2 = M + (a * 4 + 2) * xi_stride;
    const float* m3 = M + (a * 4 + 3) * xi_stride;
    float* s0 = s + (a * 2 + 0) * TW;
    float* s1 = s + (a * 2 + 1) * TW;
    for (int t = 0; t < TW; ++t) {
      s0[t] = m0[t] + m1[t] + m2[t];
      s1[t] = m1[t] - m2[t] - m3[t];
    }
  }
  // down, interleaved into the two output rows
  for (int q = 0; q < 2; ++q) {
    const float* a0 = s + (0 * 2 + q) * TW;
    const float* a1 = s + (1 * 2 + q) * TW;
    const float* a2 = s + (2 * 2 + q) * TW;
    const float* a3 = s + (3 * 2 + q) * TW;
    for (int t = 0; t < TW; ++t) {
      out[2 * t + q] = a0[t] + a1[t] + a2[t];
      out[2 * TW + 2 * t + q] = a1[t] - a2[t] - a3[t];
    }
  }
  for (int p = 0; p < 2 && oy0 + p < out_h; ++p)
    std::memcpy(plane + static_cast<int64_t>(oy0 + p) * out_w, out + p * 2 * TW, sizeof(float) * out_w);
}

// One tile row of output-gradient channel k, the adjoint of output_tile_row: the 2 rows oy0, oy0 + 1
// (zero below out_h and right of out_w) into rows[2][2*TW], then D[xi][k][t0 + tw] = (A dY A^T)[xi]
// for each tile, with A = [1 0; 1 1; 1 -1; 0 -1].
PYC_TRANSFORM
void grad_tile_row(const float* plane, int out_h, int out_w, int oy0, int TW, float* rows, float* e, float* D,
                   int64_t xi_stride) {
  for (int p = 0; p < 2; ++p) {
    float* row = rows + p * 2 * TW;
    std::fill(row, row + 2 * TW, 0.f);
    if (oy0 + p < out_h) std::memcpy(row, plane + static_cast<int64_t>(oy0 + p) * out_w, sizeof(float) * out_w);
  }
  for (int p = 0; p < 2; ++p) {  // across each row: e[p][b][tw]
    const float* row = rows + p * 2 * TW;
    float* e0 = e + (p * 4 + 0) * TW;
    float* e1 = e + (p * 4 + 1) * TW;
    float* e2 = e + (p * 4 + 2) * TW;
    float* e3 = e + (p * 4 + 3) * TW;
    for (int t = 0; t < TW; ++t) {
      const float y0 = row[2 * t], y1 = row[2 * t + 1];
      e0[t] = y0;
      e1[t] = y0 + y1;
      e2[t] = y0 - y1;
      e3[t] = -y1;
    }
  }
  for (int b = 0; b < 4; ++b) {  // down the columns: D[a*4 + b]
    const float* r0 = e + (0 * 4 + b) * TW;
    const float* r1 = e + (1 * 4 + b) * TW;
    float* d0 = D + (0 * 4 + b) * xi_stride;
    float* d1 = D + (1 * 4 + b) * xi_stride;
    float* d2 = D + (2 * 4 + b) * xi_stride;
    float* d3 = D + (3 * 4 + b) * xi_stride;
    for (int t = 0; t < TW; ++t) {
      d0[t] = r0[t];
      d1[t] = r0[t] + r1[t];
      d2[t] = r0[t] - r1[t];
      d3[t] = -r1[t];
    }
  }
}

// Per-thread scratch of at least n floats.
float* scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Every channel's tile rows [r0, r1) of all images (tile row r: image r / TH, row r % TH), the
// channels spread over the threads: f(channel, image, tile row, r - r0, the thread's scratch of
// scratch_floats).
template <class F>
void each_tile_row(int channels, int64_t r0, int64_t r1, int TH, size_t scratch_floats, F f) {
#pragma omp parallel
  {
    thread_local std::vector<float> tmp;
    float* work = scratch(tmp, scratch_floats);
#pragma omp for schedule(static)
    for (int c = 0; c < channels; ++c)
      for (int64_t r = r0; r < r1; ++r) f(c, r / TH, static_cast<int>(r % TH), r - r0, work);
  }
}

// V[xi][c][t] for the tiles of tile rows [r0, r1) of all images.
void transform_inputs(const WinogradShape& s, const float* x, int64_t r0, int64_t r1, int TH, int TW, float* V) {
  const int C = s.in_channels;
  const int64_t T = (r1 - r0) * TW, in_plane = static_cast<int64_t>(s.height) * s.width;
  each_tile_row(C, r0, r1, TH, 4 * (2 * TW + 2) + 16 * TW, [&](int c, int64_t n, int th, int64_t band_row, float* work) {
    input_tile_row(x + (n * C + c) * in_plane, s.height, s.width, 2 * th - s.pad_h, -s.pad_w, TW, work,
                   work + 4 * (2 * TW + 2), V + c * T + band_row * TW, C * T);
  });
}

// Tile rows per band: as many as fit in buffer_floats of transformed inputs and outputs.
int64_t band_rows(const WinogradShape& s, int64_t rows_total, int TW, int64_t buffer_floats) {
  const int64_t per_row = 16LL * TW * (s.in_channels + s.out_channels);
  return std::max<int64_t>(1, std::min(rows_total, buffer_floats / per_row));
}

}  // namespace

void winograd_weights(const float* w, int K, int C, bool transpose_flip, float* U) {
  const int64_t KC = static_cast<int64_t>(K) * C;
#pragma omp parallel for schedule(static) if (KC > 4096)
  for (int64_t kc = 0; kc < KC; ++kc) {
    const int64_t k = kc / C, c = kc % C;
    float g[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        g[i][j] = transpose_flip ? w[(c * K + k) * 9 + (2 - i) * 3 + (2 - j)] : w[(k * C + c) * 9 + i * 3 + j];
    float t[4][3];  // G g, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
    for (int j = 0; j < 3; ++j) {
      t[0][j] = g[0][j];
      t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
      t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
      t[3][j] = g[2][j];
    }
    for (int a = 0; a < 4; ++a) {  // (G g) G^T
      const float u[4] = {t[a][0], 0.5f * (t[a][0] + t[a][1] + t[a][2]), 0.5f * (t[a][0] - t[a][1] + t[a][2]), t[a][2]};
      for (int b = 0; b < 4; ++b) U[(a * 4 + b) * KC + kc] = u[b];
    }
  }
}

void winograd_conv(const WinogradShape& s, const float* x, const float* U, float* y, int64_t buffer_floats) {
  const int C = s.in_channels, K = s.out_channels;
  const int out_h = s.out_h(), out_w = s.out_w();
  const int TH = (out_h + 1) / 2, TW = (out_w + 1) / 2;
  const int64_t rows_total = static_cast<int64_t>(s.images) * TH;  // tile rows of all images
  const int64_t band = band_rows(s, rows_total, TW, buffer_floats);
  thread_local std::vector<float> buf;
  float* V = scratch(buf, static_cast<size_t>(band * 16 * TW * (C + K)));
  const int64_t out_plane = static_cast<int64_t>(out_h) * out_w;
  for (int64_t r0 = 0; r0 < rows_total; r0 += band) {
    const int64_t r1 = std::min(rows_total, r0 + band), T = (r1 - r0) * TW;  // this band's tiles
    float* M = V + 16 * T * C;
    transform_inputs(s, x, r0, r1, TH, TW, V);
    for (int xi = 0; xi < 16; ++xi)
      blas::gemm_ld(false, false, K, static_cast<int>(T), C, 1.f, U + xi * static_cast<int64_t>(K) * C, C, V + xi * C * T,
                    static_cast<int>(T), 0.f, M + xi * K * T, static_cast<int>(T));
    each_tile_row(K, r0, r1, TH, 8 * TW + 4 * TW, [&](int k, int64_t n, int th, int64_t band_row, float* work) {
      output_tile_row(M + k * T + band_row * TW, K * T, TW, work, work + 8 * TW, y + (n * K + k) * out_plane, out_h, out_w,
                      2 * th);
    });
  }
}

void winograd_weight_grad(const WinogradShape& s, const float* x, const float* dy, float* dw, int64_t buffer_floats) {
  const int C = s.in_channels, K = s.out_channels;
  const int out_h = s.out_h(), out_w = s.out_w();
  const int TH = (out_h + 1) / 2, TW = (out_w + 1) / 2;
  const int64_t rows_total = static_cast<int64_t>(s.images) * TH, KC = static_cast<int64_t>(K) * C;
  // The GEMMs sum over a band's tiles: a band of at least max(C, K) tiles where the images have
  // them (up to 16 * 1024 * 512 floats, 32 MB, for 512 channels), since OpenBLAS's threads
  // synchronise per block of a short sum (conv4 at 224^2: 252 tiles a band ran 4x slower than im2col).
  const int64_t band = band_rows(s, rows_total, TW, std::max<int64_t>(buffer_floats, 16LL * (C + K) * std::max(C, K)));
  thread_local std::vector<float> buf, grad;
  float* V = scratch(buf, static_cast<size_t>(band * 16 * TW * (C + K)));
  float* dU = scratch(grad, static_cast<size_t>(16 * KC));  // dU[xi][k][c]
  const int64_t out_plane = static_cast<int64_t>(out_h) * out_w;
  for (int64_t r0 = 0; r0 < rows_total; r0 += band) {
    const int64_t r1 = std::min(rows_total, r0 + band), T = (r1 - r0) * TW;
    float* D = V + 16 * T * C;
    transform_inputs(s, x, r0, r1, TH, TW, V);
    each_tile_row(K, r0, r1, TH, 4 * TW + 8 * TW, [&](int k, int64_t n, int th, int64_t band_row, float* work) {
      grad_tile_row(dy + (n * K + k) * out_plane, out_h, out_w, 2 * th, TW, work, work + 4 * TW, D + k * T + band_row * TW,
                    K * T);
    });
    for (int xi = 0; xi < 16; ++xi)  // dU_xi (K x C) += D_xi (K x T) V_xi^T
      blas::gemm_ld(false, true, K, C, static_cast<int>(T), 1.f, D + xi * K * T, static_cast<int>(T), V + xi * C * T,
                    static_cast<int>(T), r0 ? 1.f : 0.f, dU + xi * KC, C);
  }
  // dW += G^T dU G, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
#pragma omp parallel for schedule(static) if (KC > 4096)
  for (int64_t kc = 0; kc < KC; ++kc) {
    float t[4][3];
    for (int a = 0; a < 4; ++a) {
      const float u0 = dU[(a * 4 + 0) * KC + kc], u1 = dU[(a * 4 + 1) * KC + kc], u2 = dU[(a * 4 + 2) * KC + kc],
                  u3 = dU[(a * 4 + 3) * KC + kc];
      t[a][0] = u0 + 0.5f * (u1 + u2);
      t[a][1] = 0.5f * (u1 - u2);
      t[a][2] = 0.5f * (u1 + u2) + u3;
    }
    float* d = dw + kc * 9;
    for (int j = 0; j < 3; ++j) {
      d[0 * 3 + j] += t[0][j] + 0.5f * (t[1][j] + t[2][j]);
      d[1 * 3 + j] += 0.5f * (t[1][j] - t[2][j]);
      d[2 * 3 + j] += 0.5f * (t[1][j] + t[2][j]) + t[3][j];
    }
  }
}

}  // namespace pycolorize
