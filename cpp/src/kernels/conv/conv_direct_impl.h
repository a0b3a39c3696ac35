// The direct (banded, offset-GEMM) convolution's building blocks: the bias + activation
// epilogues, im2col / col2im for other strides, the row bands and the correlation of one
// image. See conv2d_impl.h for the design.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_act_impl.h"
#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/conv_rows_impl.h"
#include "kernels/conv/frozen_weights_impl.h"
#include "kernels/gemm/gemm_impl.h"
#include "kernels/pointwise/activation_impl.h"
#include "kernels/pool/pool2d_impl.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// dst (rows, Q) = act(src (rows, ld)[:, :Q] + bias); bias may be null.
template <class V>
void copy_rows_bias_act(const float* src, int64_t ld, int64_t rows, int64_t Q, float bias,
                        Activation act, float* dst) {
  using R = typename V::R;
  constexpr int W = V::W;
  const R vb = V::set1(bias);
  for (int64_t p = 0; p < rows; ++p) {
    const float* s = src + p * ld;
    float* d = dst + p * Q;
    int64_t q = 0;
    for (; q + W <= Q; q += W) {
      V::store(d + q, conv_act<V>(act, V::add(V::load(s + q), vb)));
    }
    if (q < Q && Q >= W && s != d) {
      // One more whole vector ending at Q, overlapping the last one (it stores the same values
      // again): partial stores cost ~10x a whole one on AMD, and rows here are often ~11-26 wide.
      V::store(d + Q - W, conv_act<V>(act, V::add(V::load(s + Q - W), vb)));
    } else if (q < Q) {
      const int t = static_cast<int>(Q - q);
      V::store_partial(d + q, conv_act<V>(act, V::add(V::load_partial(s + q, t), vb)), t);
    }
  }
}

// col (C*R*S, P*Q): col[(c,r,s), p*Q+q] = x[c, p*sh - pt + r, q*sw - pl + s] (0 outside). Rows of
// col are ldcol apart (default P*Q), so several images can sit side by side in one col matrix.
template <class V>
void im2col(const Conv2dGeometry& g, const float* x, float* col, int64_t ldcol = 0) {
  const int64_t PQ = g.P * g.Q;
  if (ldcol == 0) ldcol = PQ;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        float* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        // Output columns whose tap lands inside the row: [q0, q1) (stride 1: one shifted copy).
        const int64_t shift = s - g.pad_left;
        const int64_t q0 = g.stride_w == 1 ? std::clamp<int64_t>(-shift, 0, g.Q) : 0;
        const int64_t q1 = g.stride_w == 1 ? std::clamp<int64_t>(g.W - shift, q0, g.Q) : 0;
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t h = p * g.stride_h - g.pad_top + r;
          float* d = dst + p * g.Q;
          if (h < 0 || h >= g.H) {
            for (int64_t q = 0; q < g.Q; ++q) d[q] = 0.0f;
            continue;
          }
          const float* xr = x + (c * g.H + h) * g.W;
          if (g.stride_w == 1) {
            for (int64_t q = 0; q < q0; ++q) d[q] = 0.0f;
            copy_floats<V>(xr + q0 + shift, q1 - q0, d + q0);
            for (int64_t q = q1; q < g.Q; ++q) d[q] = 0.0f;
            continue;
          }
          for (int64_t q = 0; q < g.Q; ++q) {
            const int64_t wi = q * g.stride_w - g.pad_left + s;
            d[q] = (wi >= 0 && wi < g.W) ? xr[wi] : 0.0f;
          }
        }
      }
}

// dx[c, p*sh - pt + r, q*sw - pl + s] += col[(c,r,s), p*Q+q]; dx must be zeroed first.
// col rows have stride ldcol (>= P*Q). With stride_w == 1 each (c, r, s, p) adds one contiguous
// row segment, which the compiler vectorises.
inline void col2im_add(const Conv2dGeometry& g, const float* col, float* dx, int64_t ldcol) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const float* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t h = p * g.stride_h - g.pad_top + r;
          if (h < 0 || h >= g.H) continue;
          float* dr = dx + (c * g.H + h) * g.W;
          const float* sr = src + p * g.Q;
          if (g.stride_w == 1) {
            const int64_t shift = s - g.pad_left;  // dx column = q + shift
            const int64_t q0 = std::max<int64_t>(0, -shift);
            const int64_t q1 = std::min<int64_t>(g.Q, g.W - shift);
            for (int64_t q = q0; q < q1; ++q) dr[q + shift] += sr[q];
            continue;
          }
          for (int64_t q = 0; q < g.Q; ++q) {
            const int64_t wi = q * g.stride_w - g.pad_left + s;
            if (wi >= 0 && wi < g.W) dr[wi] += sr[q];
          }
        }
      }
}

// Stride-1 convolutions run on horizontal bands of output rows, so that a band's padded input
// copy and its GEMM output stay in L2 between being written and being read (the 64->64 56x56
// image alone is 861 KB padded). Measured against whole images and against bands of 40 KB..1 MB:
// no difference above this machine's run-to-run noise, so the band is sized for L2.
constexpr int64_t kBandInputBytes = 96 * 1024;

struct Banding {
  int64_t rows;    // output rows per band
  int64_t Wp;      // padded row width (= output width + S - 1): outputs are computed Wp wide
  int64_t bplane;  // floats per channel of a band's padded input: (rows + R - 1) * Wp
};

inline Banding make_banding(int64_t C, int64_t R, int64_t S, int64_t P, int64_t Q,
                            int64_t budget = kBandInputBytes, bool even_rows = false) {
  Banding b;
  b.Wp = Q + S - 1;
  const int64_t fit = budget / (4 * std::max<int64_t>(C, 1) * b.Wp) - (R - 1);
  // At least ~64 output columns per band so the GEMM still has whole tiles to work on.
  const int64_t min_rows = (64 + b.Wp - 1) / b.Wp;
  b.rows = std::clamp<int64_t>(std::max(fit, min_rows), 1, P);
  if (even_rows) b.rows = std::max<int64_t>(2, b.rows / 2 * 2);  // whole 2x2 pooling windows
  b.bplane = (b.rows + R - 1) * b.Wp;
  return b;
}

// Offsets of the implicit column matrix's rows (c, r, s) in a banded padded input.
inline void band_offsets(int64_t C, int64_t R, int64_t S, const Banding& b, int64_t* off) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s) off[(c * R + r) * S + s] = c * b.bplane + r * b.Wp + s;
}

// Stores pooled row d (Qp floats, starting `offset` floats into dst) from block(q), the
// vector of outputs q .. q + W - 1. The tail as whole vectors: one overlapping the previous
// (same values again), or one spilling into the next row while within `room`; partial stores
// are slow (see simd_avx2.h).
template <class V, class Block>
inline void store_pooled_row(float* d, int64_t Qp, int64_t offset, int64_t room,
                             const Block& block) {
  int64_t q = 0;
  for (; q + V::W <= Qp; q += V::W) V::store(d + q, block(q));
  if (q == Qp) return;
  if (Qp >= V::W) {
    V::store(d + Qp - V::W, block(Qp - V::W));
  } else if (offset + V::W <= room) {
    V::store(d + q, block(q));
  } else {
    V::store_partial(d + q, block(q), static_cast<int>(Qp - q));
  }
}

// dst (rows, Qp) = act(2x2 max pool of src's row pairs + bias): pooled row i from src rows 2i and
// 2i + 1 (ld apart; 2 Qp valid columns each), dst rows Qp apart. Pooling before the bias and
// activation gives the same floats as after for the activations of pool_commutes (conv2d.h):
// adding a constant and those activations preserve the order (rounding is monotone too), and the
// activation runs on a quarter of the outputs. Reads whole vectors: the rows live in a scratch
// buffer with slack. One call per channel's band, not per row: the lecture net's rows are 13
// windows, two blocks, and a call per row spent as much on the call as on the pooling.
// `room`: floats dst may be written to (a short row's whole-vector store spills into the rows
// after it, written afterwards, as far as room allows).
template <class V>
void pool_rows_bias_act(const float* src, int64_t ld, int64_t rows, int64_t Qp, float bias,
                        Activation act, float* dst, int64_t room) {
  const typename V::R vb = V::set1(bias);
  with_pooled_activation(act, [&](auto a) {
    for (int64_t i = 0; i < rows; ++i) {
      const float* r0 = src + 2 * i * ld;
      const float* r1 = r0 + ld;
      float* d = dst + i * Qp;
      const auto block = [&](int64_t q) {
        return activate<V>(a, V::add(maxpool2x2_block<V>(r0 + 2 * q, r1 + 2 * q, V::W), vb));
      };
      store_pooled_row<V>(d, Qp, i * Qp, room, block);
    }
  });
}

// dst (rows, Qp) = 2x2 average pool of act(src + bias): pooled row i from src rows 2i and 2i + 1
// (ld apart; 2 Qp valid columns each), dst rows Qp apart. Reads whole vectors (the rows live in
// a scratch buffer with slack; lanes past the valid columns are never stored). `room`: floats
// dst may be written to (a short row's whole-vector store spills into rows written afterwards).
template <class V>
void avgpool_rows_bias_act(const float* src, int64_t ld, int64_t rows, int64_t Qp, float bias,
                           Activation act, float* dst, int64_t room) {
  using R = typename V::R;
  const R vb = V::set1(bias), four = V::set1(4.0f);
  // 2W consecutive conv outputs, activated, as the windows' (left, right) columns.
  const auto activated_pairs = [&](const float* p, R& left, R& right) {
    V::deinterleave(activate<V>(act, V::add(V::load(p), vb)),
                    activate<V>(act, V::add(V::load(p + V::W), vb)), left, right);
  };
  for (int64_t i = 0; i < rows; ++i) {
    const float* r0 = src + 2 * i * ld;
    float* d = dst + i * Qp;
    const auto block = [&](int64_t q) {
      R a, b, c, e;
      activated_pairs(r0 + 2 * q, a, b);
      activated_pairs(r0 + ld + 2 * q, c, e);
      return V::div(V::add(V::add(V::add(a, b), c), e), four);
    };
    store_pooled_row<V>(d, Qp, i * Qp, room, block);
  }
}

// What correlate_image's epilogue does with a band's output: store it, or pool it 2x2.
enum class BandPool { none, max2x2, avg2x2 };

// One image of a stride-1 correlation: out (K, P, Q) = act(A (K, C*R*S) * cols(in) + bias), where
// `in` (C, H, W) sits at (top, left) of a zero plane of (P + R - 1, Q + S - 1) (top/left may be
// negative: cropping). With a pool, P is even, band.rows too, and out is the 2x2 max or average
// pool (K, P / 2, Q / 2) of that. A is packed (pack_nn_a). Uses scratch slots a and b; `off` from
// band_offsets.
template <class V, class Cfg>
void correlate_image(const float* in, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left,
                     const float* A, int64_t K, int64_t R, int64_t S, int64_t P, int64_t Q,
                     const Banding& band, const int64_t* off, const float* bias, Activation act,
                     float* out, int threads, BandPool pool = BandPool::none) {
  const int64_t CRS = C * R * S, Wp = band.Wp;
  // Columns are computed in whole register tiles: the last tile's extra columns are junk like
  // the S-1 per row (cheaper than a masked tail kernel: masked loads are slow on AMD). xp and yt
  // get a tile of slack for them. Or row tiles (conv_rows_impl.h): whole vectors per output row,
  // rows Qv * W apart in yt.
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(K).nr) * V::W;
  const int64_t slack = S + tile + V::W;
  const RowTiling rt = choose_row_tiling<V, Cfg>(K, Q, Wp, band.rows);
  const int64_t ld = rt.on ? rt.Qv * V::W : Wp;  // yt's distance between output rows
  const int64_t yt_band = std::max(band.rows * Wp + tile, (band.rows * rt.Qv + 8) * V::W);
  float* xp = scratch(Scratch::a, C * band.bplane + slack);
  float* yt = scratch(Scratch::b, K * yt_band + 2 * V::W);
  std::memset(xp + C * band.bplane, 0, slack * sizeof(float));
  for (int64_t p0 = 0; p0 < P; p0 += band.rows) {
    const int64_t nr = std::min(band.rows, P - p0);
    int64_t M = (nr * Wp + tile - 1) / tile * tile;  // row stride of yt
    for (int64_t c = 0; c < C; ++c) {
      pad_plane(in + c * H * W, H, W, xp + c * band.bplane, nr + R - 1, Wp, top - p0, left);
    }
    if (rt.on) {
      const int64_t nvec = row_tile_vectors<Cfg>(K, rt, nr);
      auto* vbase = reinterpret_cast<int64_t*>(scratch(Scratch::d, 2 * nvec));
      for (int64_t u = 0; u < nvec; ++u) {
        vbase[u] = u < nr * rt.Qv ? (u / rt.Qv) * Wp + (u % rt.Qv) * V::W : 0;
      }
      M = nvec * V::W;
      gemm_row_tiles<V, Cfg>(K, CRS, A, xp, off, vbase, nvec, yt, threads);
    } else {
      GemmNN gg;
      gg.M = K, gg.N = M, gg.J = CRS, gg.A = A, gg.a_packed = true, gg.B = xp, gg.boff = off,
      gg.C = yt, gg.ldc = M;
      gemm_nn<V, Cfg>(gg, threads);
    }
    for (int64_t k = 0; k < K; ++k) {
      const float bk = bias ? bias[k] : 0.0f;
      if (pool == BandPool::none) {
        copy_rows_bias_act<V>(yt + k * M, ld, nr, Q, bk, act, out + k * P * Q + p0 * Q);
        continue;
      }
      const int64_t Pp = P / 2, Qp = Q / 2, row = p0 / 2, rows = nr / 2;
      // A spill lands in later rows of this channel, written afterwards (later in this band, or
      // in a later band).
      float* dst = out + (k * Pp + row) * Qp;
      if (pool == BandPool::max2x2) {
        pool_rows_bias_act<V>(yt + k * M, ld, rows, Qp, bk, act, dst, (Pp - row) * Qp);
      } else {
        avgpool_rows_bias_act<V>(yt + k * M, ld, rows, Qp, bk, act, dst, (Pp - row) * Qp);
      }
    }
  }
}

// The shared inputs of a stride-1 forward correlation, in scratch slot c (read by every thread):
// the band's row offsets, then the weights packed once for every image's GEMM.
struct CorrelationWeights {
  const int64_t* off;
  const float* wp;
};

template <class Cfg>
CorrelationWeights pack_correlation_weights(const Conv2dGeometry& g, const Banding& band,
                                            const float* w) {
  const int64_t CRS = g.C * g.R * g.S;
  float* shared = scratch(Scratch::c, 2 * CRS + packed_nn_a_size<Cfg>(g.K, CRS));
  auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
  band_offsets(g.C, g.R, g.S, band, off);
  return {off, packed_conv_weights<Cfg>(g.K, CRS, w, shared + 2 * CRS)};
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
