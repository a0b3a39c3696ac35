// Strided convolutions (stride > 1 on either axis) as a stride-1 offset GEMM on phase planes, no
// im2col. The padded input of channel c is split into sh * sw phase planes, plane (a, b) holding
// the pixels of rows a, a + sh, ... and columns b, b + sw, ...:
//   phase[c, a, b][i, j] = xpad[c, sh*i + a, sw*j + b].
// Output pixel (p, q) reads tap (r, s) at xpad[c, sh*p + r, sw*q + s]
//   = phase[c, r % sh, s % sw][p + r / sh, q + s / sw],
// so with outputs computed Wp = Q + (S - 1) / sw wide (m = p*Wp + q), every tap is one shifted
// row of a phase plane, as in the stride-1 path (conv_direct_impl.h): a GEMM whose B rows are
// the phase planes at a per-(c, r, s) offset. It is the stride-1 path on C*sh*sw channels with a
// (R-1)/sh + 1 by (S-1)/sw + 1 kernel, whose taps that fall outside R x S are simply not in the
// offset table (no zero weights are multiplied). The phase planes hold the input once (im2col
// copied it R*S/(sh*sw) times, with a scalar gather per element: 3x3 stride 2 on 3x32x32 spent
// about as long in im2col as in its GEMM).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_direct_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// floor(a / b) for b > 0 (C++ division truncates toward zero). Corrects the truncated quotient
// instead of rounding -a up, which overflows when b is a huge stride.
inline int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Phases a tap reaches on each axis: a stride larger than the kernel skips the others (and a
// huge stride must not size anything).
inline int64_t row_phases(const Conv2dGeometry& g) {
  return std::min(g.stride_h, g.R);
}
inline int64_t col_phases(const Conv2dGeometry& g) {
  return std::min(g.stride_w, g.S);
}

// The bands of a strided layer: as a stride-1 layer on the phase planes.
inline Banding make_strided_banding(const Conv2dGeometry& g, int64_t budget = kBandInputBytes) {
  return make_banding(g.C * row_phases(g) * col_phases(g), (g.R - 1) / g.stride_h + 1,
                      (g.S - 1) / g.stride_w + 1, g.P, g.Q, budget);
}

// Rows of a band's phase planes: its output rows plus the taps' reach below them.
inline int64_t strided_band_rows(const Conv2dGeometry& g, int64_t out_rows) {
  return out_rows + (g.R - 1) / g.stride_h;
}

// Offsets of the implicit column matrix's rows (c, r, s) in a band's phase planes (plane
// (c, a, b) at ((c*ph + a)*pw + b) * bplane, ph x pw phases).
inline void strided_band_offsets(const Conv2dGeometry& g, const Banding& b, int64_t* off) {
  const int64_t sh = g.stride_h, sw = g.stride_w, ph = row_phases(g), pw = col_phases(g);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t plane = (c * ph + r % sh) * pw + s % sw;
        off[(c * g.R + r) * g.S + s] = plane * b.bplane + (r / sh) * b.Wp + s / sw;
      }
}

// d[j] = s[2 j] for 0 <= j < n, reading s[0 .. 2n - 2] only (the row may end there): two
// vector loads and one deinterleave per W outputs. The scalar strided loop this replaces was the
// largest part of 3x3 stride-2 im2col (32->64 on 16x16: im2col 19% of the layer's forward + wgrad
// profile against the GEMMs' 24%).
template <class V>
inline void copy_even_floats(const float* s, int64_t n, float* d) {
  constexpr int W = V::W;
  const int64_t readable = 2 * n - 1;
  for (int64_t j = 0; j < n; j += W) {
    const int64_t left = readable - 2 * j;  // floats readable from s + 2 j
    const int la = static_cast<int>(std::min<int64_t>(left, W));
    const int lb = static_cast<int>(std::clamp<int64_t>(left - W, 0, W));
    const typename V::R a = la == W ? V::load(s + 2 * j) : V::load_partial(s + 2 * j, la);
    const typename V::R b = lb == W ? V::load(s + 2 * j + W) : V::load_partial(s + 2 * j + W, lb);
    typename V::R even, odd;
    V::deinterleave(a, b, even, odd);
    if (n - j >= W) {
      V::store(d + j, even);
    } else {
      V::store_partial(d + j, even, static_cast<int>(n - j));
    }
  }
}

// d[j] = s[sw * j] for 0 <= j < n: the columns of one phase-plane row.
template <class V>
inline void copy_strided_floats(const float* s, int64_t sw, int64_t n, float* d) {
  if (sw == 1) return copy_floats<V>(s, n, d);
  if (sw == 2) return copy_even_floats<V>(s, n, d);
  for (int64_t j = 0; j < n; ++j) d[j] = s[j * sw];
}

// The phase planes of one channel's band (a < row_phases, b < col_phases): dst plane (a, b) (rows x
// Wp, planes bplane apart) [i, j] = src[sh*(p0 + i) + a - pad_top, sw*j + b - pad_left], 0 outside
// src (H x W).
template <class V>
void fill_phase_planes(const Conv2dGeometry& g, const float* src, int64_t p0, int64_t rows,
                       const Banding& band, float* dst) {
  const int64_t sh = g.stride_h, sw = g.stride_w, Wp = band.Wp, pw = col_phases(g);
  for (int64_t a = 0; a < row_phases(g); ++a)
    for (int64_t b = 0; b < pw; ++b) {
      float* plane = dst + (a * pw + b) * band.bplane;
      // Columns j whose source column sw*j + b - pad_left lies in [0, W): [j0, j1).
      const int64_t first = g.pad_left - b;  // source column 0 is at j = first / sw
      const int64_t j0 = std::clamp<int64_t>(-floor_div(-first, sw), 0, Wp);
      const int64_t j1 = std::clamp<int64_t>(floor_div(g.W - 1 + first, sw) + 1, j0, Wp);
      for (int64_t i = 0; i < rows; ++i) {
        float* d = plane + i * Wp;
        const int64_t h = sh * (p0 + i) + a - g.pad_top;
        if (h < 0 || h >= g.H || j1 == j0) {
          std::memset(d, 0, Wp * sizeof(float));
          continue;
        }
        const float* s = src + h * g.W + (sw * j0 + b - g.pad_left);
        for (int64_t j = 0; j < j0; ++j) d[j] = 0.0f;
        copy_strided_floats<V>(s, sw, j1 - j0, d + j0);
        for (int64_t j = j1; j < Wp; ++j) d[j] = 0.0f;
      }
    }
}

// dst (rows, Q), rows packed = src (rows, ld)[:, :Q]. Rows narrower than a vector are stored
// whole, each spilling into the rows after it (written right after), as long as the store ends
// within dst[rows * Q); the last ones are partial stores, so nothing past that is written. Reads
// up to V::W floats from each src row (src needs that much slack after its last row's start).
template <class V>
inline void copy_rows_packed(const float* src, int64_t ld, int64_t rows, int64_t Q, float* dst) {
  if (Q >= V::W) {
    for (int64_t p = 0; p < rows; ++p) copy_floats<V>(src + p * ld, Q, dst + p * Q);
    return;
  }
  int64_t p = 0;
  for (; p * Q + V::W <= rows * Q; ++p) V::store(dst + p * Q, V::load(src + p * ld));
  const int q = static_cast<int>(Q);
  for (; p < rows; ++p) V::store_partial(dst + p * Q, V::load_partial(src + p * ld, q), q);
}

// The im2col forward's column matrix for a stack of images stays within this (an L2-sized
// share, like kBandInputBytes).
constexpr int64_t kStackColBytes = 384 * 1024;

// Images per stack of the im2col forward (conv_stacked_impl.h): enough for about four register
// tiles of columns, within kStackColBytes.
template <class V, class Cfg>
int64_t im2col_stack_images(const Conv2dGeometry& g) {
  const int64_t PQ = std::max<int64_t>(g.P * g.Q, 1), CRS = g.C * g.R * g.S;
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.K).nr) * V::W;
  const int64_t want = (4 * tile + PQ - 1) / PQ;
  const int64_t fit = kStackColBytes / (4 * std::max<int64_t>(CRS * PQ, 1));
  return std::clamp<int64_t>(std::min(want, fit), 1, std::max<int64_t>(g.N, 1));
}

// Batches from this many images up compute an image alike whatever their size: the inference
// plan runs a large batch in chunks of 16-31 images (plan_chunks.h) and promises the floats of
// the whole batch, so no batch-dependent choice may flip above it.
constexpr int64_t kBatchInvariantImages = 16;

// Outputs smaller than two thirds of a register tile of columns, in batches too small to fill two
// tiles when stacked, take the pixel-major im2col and the dot-product GEMM (conv_stacked_impl.h):
// one image's few columns without a mostly empty tile. Larger batches stack images side by side
// for gemm_nn: all-conv layer 3 (64->128, 8x8 to 4x4, AVX-512, 1 thread, thread CPU time on the
// loaded machine) ran at 44-46% of peak stacked against 31% pixel-major at batch 16 and 256, and
// at 9-12% against 25-32% at batch 1. Batches of kBatchInvariantImages or more always stack (a
// 2x2 output on AVX-512 would otherwise go pixel-major at 16 images and stacked at 32); the two
// paths differ in the last bits (as Winograd F(4x4) and F(2x2) do, conv_algo_impl.h).
template <class V, class Cfg>
bool im2col_pixel_major_suits(const Conv2dGeometry& g) {
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.K).nr) * V::W;
  const int64_t PQ = g.P * g.Q;
  return 3 * PQ < 2 * tile && g.N * PQ < 2 * tile && g.N < kBatchInvariantImages;
}

// Whether the phase planes beat im2col + GEMM for this strided layer. Their GEMM computes
// (S-1)/sw junk columns per output row, and every band's columns rounded up to whole register
// tiles, which on small outputs (8x8: 72 columns, two 64-wide tiles) doubles the FMAs; im2col
// computes P*Q columns per image (a stack of images rounded once) but first copies C*R*S*P*Q
// floats, charged 32 lane-FMAs each (measured with the per-float gather im2col had then: 3x3
// stride 2 3->32 on 32x32 went 15 -> 21% of peak on phase planes, 32->64 on 16x16 25 -> 22%, so
// that one stays on im2col; not re-tuned since im2col copies rows of phase planes,
// im2col_any_stride).
template <class V, class Cfg>
bool strided_phase_planes_suit(const Conv2dGeometry& g, const Banding& band) {
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.K).nr) * V::W;
  const auto tiles = [&](int64_t cols) { return (cols + tile - 1) / tile * tile; };
  const int64_t full = g.P / band.rows, rest = g.P % band.rows;
  const int64_t phase_cols = full * tiles(band.rows * band.Wp) + (rest ? tiles(rest * band.Wp) : 0);
  const int64_t stack = im2col_stack_images<V, Cfg>(g);
  const double im2col_cols = im2col_pixel_major_suits<V, Cfg>(g)
                                 ? static_cast<double>(g.P * g.Q)
                                 : static_cast<double>(tiles(stack * g.P * g.Q)) / stack;
  return g.K * (phase_cols - im2col_cols) <= 32.0 * g.P * g.Q;
}

// One image of a strided forward: out (K, P, Q) = act(A (K, C*R*S) * cols(phase planes) + bias).
// A is packed (pack_nn_a); `off` from strided_band_offsets. Uses scratch slots a and b.
template <class V, class Cfg>
void correlate_image_strided(const Conv2dGeometry& g, const float* in, const float* A,
                             const Banding& band, const int64_t* off, const float* bias,
                             Activation act, float* out, int threads) {
  const int64_t CRS = g.C * g.R * g.S, Wp = band.Wp, phases = row_phases(g) * col_phases(g);
  const int64_t planes = g.C * phases;
  // Whole register tiles of columns, the extra ones junk (see correlate_image): a tile of slack.
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.K).nr) * V::W;
  const int64_t slack = Wp + tile + V::W;
  float* xp = scratch(Scratch::a, planes * band.bplane + slack);
  float* yt = scratch(Scratch::b, g.K * (band.rows * Wp + tile) + 2 * V::W);
  std::memset(xp + planes * band.bplane, 0, slack * sizeof(float));
  for (int64_t p0 = 0; p0 < g.P; p0 += band.rows) {
    const int64_t nr = std::min(band.rows, g.P - p0);
    const int64_t M = (nr * Wp + tile - 1) / tile * tile;  // row stride of yt
    for (int64_t c = 0; c < g.C; ++c) {
      fill_phase_planes<V>(g, in + c * g.H * g.W, p0, strided_band_rows(g, nr), band,
                           xp + c * phases * band.bplane);
    }
    GemmNN gg;
    gg.M = g.K, gg.N = M, gg.J = CRS, gg.A = A, gg.a_packed = true, gg.B = xp, gg.boff = off,
    gg.C = yt, gg.ldc = M;
    gemm_nn<V, Cfg>(gg, threads);
    for (int64_t k = 0; k < g.K; ++k) {
      copy_rows_bias_act<V>(yt + k * M, Wp, nr, g.Q, bias ? bias[k] : 0.0f, act,
                            out + k * g.P * g.Q + p0 * g.Q);
    }
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl

namespace pocketcnn::kernels::impl {
namespace {

// im2col (conv_direct_impl.h) for any stride: strided rows of col are contiguous rows of the phase
// planes (one vector copy per output row instead of a gather per float with a bounds test per
// float; the stacked weight gradient of 3x3 stride 2 spent most of its time in that gather). The
// planes of the whole image go to scratch slot e (free between GEMM calls).
template <class V>
void im2col_any_stride(const Conv2dGeometry& g, const float* x, float* col, int64_t ldcol = 0) {
  if (g.stride_w == 1 || g.P * g.Q == 0) {
    im2col<V>(g, x, col, ldcol);
    return;
  }
  const int64_t PQ = g.P * g.Q, sh = g.stride_h, sw = g.stride_w;
  const int64_t ph = row_phases(g), pw = col_phases(g), phases = ph * pw;
  if (ldcol == 0) ldcol = PQ;
  Banding whole;
  whole.rows = g.P, whole.Wp = g.Q + (g.S - 1) / sw;
  whole.bplane = strided_band_rows(g, g.P) * whole.Wp;
  // V::W of slack: copy_rows_packed reads whole vectors.
  float* xp = scratch(Scratch::e, g.C * phases * whole.bplane + V::W);
  for (int64_t c = 0; c < g.C; ++c) {
    fill_phase_planes<V>(g, x + c * g.H * g.W, 0, strided_band_rows(g, g.P), whole,
                         xp + c * phases * whole.bplane);
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const float* plane = xp + ((c * ph + r % sh) * pw + s % sw) * whole.bplane;
        const float* src = plane + (r / sh) * whole.Wp + s / sw;
        float* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        copy_rows_packed<V>(src, whole.Wp, g.P, g.Q, dst);
      }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl

namespace pocketcnn::kernels::impl {
namespace {

// dst[0:n] += src[0:n] (whole vectors, then a scalar tail: an overlapping vector would add twice).
template <class V>
inline void add_floats(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(dst + i, V::add(V::load(dst + i), V::load(src + i)));
  // The tail as one masked vector: rows of Q = 4 (allconv's 64->128 s2 layer) had only a tail.
  const int t = static_cast<int>(n - i);
  if (t > 0)
    V::store_partial(dst + i, V::add(V::load_partial(dst + i, t), V::load_partial(src + i, t)), t);
}

// Stride 2 across: each row of dx takes both column phases of plane row i at once,
//   dx[h][2j + b - pad_left] += plane(a, b)[i][j], b = 0, 1,
// with the columns that fall outside dx (at most one on each side) done alone, so the loop over
// the middle has a fixed stride GCC vectorises as an interleave. The strided scalar loop it
// replaced took about as long as the GEMM on allconv's 3x3 s2 layers (AVX2, batch 128: 3 ms of
// the input gradient's 6.5 ms).
inline void col2im_scatter_pairs(const Conv2dGeometry& g, const float* xp, int64_t rows, int64_t Wp,
                                 int64_t bplane, float* dx) {
  const int64_t sh = g.stride_h, ph = row_phases(g);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t a = 0; a < ph; ++a) {
      const float* even = xp + (c * ph + a) * 2 * bplane;
      const float* odd = even + bplane;
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t h = sh * i + a - g.pad_top;
        if (h < 0 || h >= g.H) continue;
        float* d = dx + (c * g.H + h) * g.W;
        const float* e = even + i * Wp;
        const float* o = odd + i * Wp;
        // Column w = 2j + b - pad_left: pairs j whose both columns lie inside [0, W).
        const int64_t j0 = std::clamp<int64_t>(-floor_div(-g.pad_left, 2), 0, Wp);
        const int64_t j1 = std::clamp<int64_t>(floor_div(g.W - 2 + g.pad_left, 2) + 1, j0, Wp);
        for (int64_t j = 0; j < j0; ++j) {
          for (int64_t b = 0; b < 2; ++b) {
            const int64_t w = 2 * j + b - g.pad_left;
            if (w >= 0 && w < g.W) d[w] += (b ? o : e)[j];
          }
        }
        float* dm = d + 2 * j0 - g.pad_left;
        for (int64_t j = 0; j < j1 - j0; ++j) {
          dm[2 * j] += e[j0 + j];
          dm[2 * j + 1] += o[j0 + j];
        }
        for (int64_t j = j1; j < Wp; ++j) {
          for (int64_t b = 0; b < 2; ++b) {
            const int64_t w = 2 * j + b - g.pad_left;
            if (w >= 0 && w < g.W) d[w] += (b ? o : e)[j];
          }
        }
      }
    }
}

// col2im_add (conv_direct_impl.h) for any stride: each col row is added as a contiguous row of a
// phase plane (vector adds; the plain col2im tests bounds per float), then the planes are
// scattered into dx once (each input pixel lives in one plane). dx must be zeroed first. The
// planes go to scratch slot e (free between GEMM calls).
template <class V>
void col2im_add_any_stride(const Conv2dGeometry& g, const float* col, float* dx, int64_t ldcol) {
  if (g.stride_w == 1 || g.P * g.Q == 0) {
    col2im_add(g, col, dx, ldcol);
    return;
  }
  const int64_t sh = g.stride_h, sw = g.stride_w, ph = row_phases(g), pw = col_phases(g);
  const int64_t Wp = g.Q + (g.S - 1) / sw, rows = strided_band_rows(g, g.P), bplane = rows * Wp;
  float* xp = scratch(Scratch::e, g.C * ph * pw * bplane);
  std::memset(xp, 0, g.C * ph * pw * bplane * sizeof(float));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        float* dst = xp + ((c * ph + r % sh) * pw + s % sw) * bplane + (r / sh) * Wp + s / sw;
        const float* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        for (int64_t p = 0; p < g.P; ++p) add_floats<V>(src + p * g.Q, g.Q, dst + p * Wp);
      }
  // Plane (a, b)[i, j] is dx[sh*i + a - pad_top, sw*j + b - pad_left] (where that is inside dx).
  if (sw == 2 && pw == 2) {
    col2im_scatter_pairs(g, xp, rows, Wp, bplane, dx);
    return;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t a = 0; a < ph; ++a)
      for (int64_t b = 0; b < pw; ++b) {
        const float* plane = xp + ((c * ph + a) * pw + b) * bplane;
        const int64_t first = g.pad_left - b;
        const int64_t j0 = std::clamp<int64_t>(-floor_div(-first, sw), 0, Wp);
        const int64_t j1 = std::clamp<int64_t>(floor_div(g.W - 1 + first, sw) + 1, j0, Wp);
        for (int64_t i = 0; i < rows; ++i) {
          const int64_t h = sh * i + a - g.pad_top;
          if (h < 0 || h >= g.H) continue;
          float* d = dx + (c * g.H + h) * g.W + (sw * j0 + b - g.pad_left);
          for (int64_t j = j0; j < j1; ++j) d[(j - j0) * sw] += plane[i * Wp + j];
        }
      }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
