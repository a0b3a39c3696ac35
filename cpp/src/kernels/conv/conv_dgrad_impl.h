// The input gradient (dgrad): the flipped-weight correlation, the col GEMM + masked gather,
// or Winograd's adjoint, chosen by cost.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv_algo_impl.h"
#include "kernels/conv/conv_dgrad_phases_impl.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_pointwise_impl.h"
#include "kernels/conv/conv_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Which algorithm conv2d_backward_input uses (tests force each one; the op picks by cost).
// phases: strided only (conv_dgrad_phases_impl.h).
enum class DgradPath { automatic, correlate, col, winograd, phases };

// Bands of output rows for the stride-1 col path of the input gradient: a band's col (CRS, rows *
// Q, rounded up to whole tiles) is gathered while it is still in L2. (Gathering a few channels'
// col rows right after their GEMM, while in L1, measured no faster for the lecture net.)
constexpr int64_t kDgradColBytes = 192 * 1024;

struct DgradBanding {
  int64_t rows;   // output rows per band
  int64_t tile;   // GEMM columns per register tile
  int64_t ldc;    // row stride of col and of dy's band copy: rows * Q rounded up to whole tiles
  int64_t nvj;    // vectors per input row: ceil(W / V::W)
  int64_t front;  // floats before col's first row read by dgrad_gather (masked off)
  int64_t back;   // floats after col's last row read by dgrad_gather (masked off)
};

template <class V, class Cfg>
DgradBanding make_dgrad_banding(const Conv2dGeometry& g, int64_t col_bytes = kDgradColBytes) {
  DgradBanding b;
  const int64_t CRS = g.C * g.R * g.S, W = V::W;
  b.tile = static_cast<int64_t>(choose_nn_shape<Cfg>(CRS).nr) * W;
  const int64_t fit = col_bytes / (4 * std::max<int64_t>(CRS, 1) * g.Q);
  // At least ~16 tiles of columns per band: each band's last tile is partly junk.
  const int64_t min_rows = (16 * b.tile + g.Q - 1) / g.Q;
  b.rows = std::clamp<int64_t>(std::max(fit, min_rows), 1, g.P);
  b.ldc = (b.rows * g.Q + b.tile - 1) / b.tile * b.tile;
  b.nvj = (g.W + W - 1) / W;
  // dgrad_gather reads col row i at i*ldc + (p - p0)*Q + j + pad_left - s for j < nvj*W: from
  // S-1 floats before a row to nvj*W + pad_left past its band's last output row.
  b.front = (g.S - 1 + W - 1) / W * W;
  b.back = (b.nvj * W + g.pad_left + W - 1) / W * W;
  return b;
}

// Estimated cost of the col path in scalar FMAs: the GEMM over every band's whole tiles, plus the
// gather (R*S vector loads, masks and adds per V::W floats of dx, measured at ~4 FMAs' time per
// float and tap on the lecture net's layer) and dy's copy.
template <class V>
double dgrad_col_cost(const Conv2dGeometry& g, const DgradBanding& b) {
  const int64_t CRS = g.C * g.R * g.S;
  const int64_t bands = (g.P + b.rows - 1) / b.rows, last = g.P - (bands - 1) * b.rows;
  const double cols = double(bands - 1) * b.ldc + (last * g.Q + b.tile - 1) / b.tile * b.tile;
  return double(CRS) * g.K * cols + 4.0 * double(CRS) * g.H * b.nvj * V::W + 2.0 * g.K * g.P * g.Q;
}

// A lane mask in a struct: a vector of __m256 would drop its alignment attribute (and warn).
template <class V>
struct LaneMask {
  typename V::M m;
};

// kS > 0: the kernel width S as a constant (the tap loop unrolls, the masks stay in registers).
template <class V, int kS>
void dgrad_gather_s(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                    const float* col, int64_t p0, int64_t nr, bool accumulate, float* dx,
                    const float* prefetch, int64_t pf_total) {
  using Reg = typename V::R;
  constexpr int W = V::W;
  constexpr int kA = kS > 0 ? kS : 1;  // add chains per vector
  const int64_t S = kS > 0 ? kS : g.S;
  const int64_t RS = g.R * S, HW = g.H * g.W, total = g.C * HW, nvj = b.nvj, ldc = b.ldc;
  const int64_t h0 = accumulate ? std::max<int64_t>(0, p0 - g.pad_top) : 0;
  const int64_t h1 = accumulate ? std::min(g.H, p0 + nr + g.R - 1 - g.pad_top) : g.H;
  // Prefetch a slice of pf_chunk floats per row: a few lines at a time (a burst would stall).
  const int64_t pf_rows = std::max<int64_t>(1, g.C * (h1 - h0));
  const int64_t pf_chunk = (pf_total + pf_rows * 16 - 1) / (pf_rows * 16) * 16;
  int64_t pf_at = 0;
  auto load_dx = [&](int64_t at) {
    return at + W <= total ? V::load(dx + at) : V::load_partial(dx + at, int(total - at));
  };
  auto store_dx = [&](int64_t at, Reg v) {
    if (at + W <= total) {
      V::store(dx + at, v);
    } else {
      V::store_partial(dx + at, v, static_cast<int>(total - at));
    }
  };
  for (int64_t c = 0; c < g.C; ++c) {
    const float* cc = col + c * RS * ldc;
    for (int64_t h = h0; h < h1; ++h) {
      // Taps r whose output row p = h + pt - r is in [p0, p0 + nr).
      const int64_t r0 = std::max<int64_t>(0, h + g.pad_top - (p0 + nr - 1));
      const int64_t r1 = std::min<int64_t>(g.R, h + g.pad_top - p0 + 1);
      const int64_t row = c * HW + h * g.W;
      // Tap (r, s) of input column j reads col row (c, r, s) at (h + pt - r - p0)*Q + j + pl - s.
      const float* t0 = cc + (h + g.pad_top - p0) * g.Q + g.pad_left;
      const int64_t r_step = S * ldc - g.Q, s_step = ldc - 1;
      if (prefetch && pf_at < pf_total) {
        const int64_t end = std::min(pf_total, pf_at + pf_chunk);
        for (; pf_at < end; pf_at += 16) __builtin_prefetch(prefetch + pf_at, 0, 2);
      }
      int64_t jv = 0;
      // Two vectors at a time, with one chain of adds per tap column s when S is a constant (a
      // single chain of R*S adds is bound by the add latency); the chains are then summed in s
      // order: a fixed order.
      for (; jv + 2 <= nvj; jv += 2) {
        Reg a0[kA], a1[kA];
#pragma GCC unroll 8
        for (int i = 0; i < kA; ++i) a0[i] = V::zero(), a1[i] = V::zero();
        const LaneMask<V>* m = masks + jv;
        const float* t = t0 + r0 * r_step + jv * W;
        if constexpr (kS > 0) {
          // One pointer per s (offsets held in registers, not reloaded from the stack).
          const float* ts[kS];
          typename V::M m0[kS], m1[kS];
#pragma GCC unroll 8
          for (int i = 0; i < kS; ++i) {
            ts[i] = t + i * s_step, m0[i] = m[i * nvj].m, m1[i] = m[i * nvj + 1].m;
          }
          for (int64_t r = r0; r < r1; ++r) {
#pragma GCC unroll 8
            for (int i = 0; i < kS; ++i) {
              a0[i] = V::add(a0[i], V::maskz(m0[i], V::load(ts[i])));
              a1[i] = V::add(a1[i], V::maskz(m1[i], V::load(ts[i] + W)));
              ts[i] += r_step;
            }
          }
        } else {
          for (int64_t r = r0; r < r1; ++r, t += r_step) {
            for (int64_t s = 0; s < S; ++s) {
              a0[0] = V::add(a0[0], V::maskz(m[s * nvj].m, V::load(t + s * s_step)));
              a1[0] = V::add(a1[0], V::maskz(m[s * nvj + 1].m, V::load(t + s * s_step + W)));
            }
          }
        }
#pragma GCC unroll 8
        for (int i = 1; i < kA; ++i) a0[0] = V::add(a0[0], a0[i]), a1[0] = V::add(a1[0], a1[i]);
        if (accumulate) {
          a0[0] = V::add(load_dx(row + jv * W), a0[0]);
          a1[0] = V::add(load_dx(row + jv * W + W), a1[0]);
        }
        store_dx(row + jv * W, a0[0]);
        store_dx(row + jv * W + W, a1[0]);
      }
      if (jv < nvj) {
        Reg a0 = V::zero();
        const LaneMask<V>* m = masks + jv;
        const float* t = t0 + r0 * r_step + jv * W;
        for (int64_t r = r0; r < r1; ++r, t += r_step) {
          for (int64_t s = 0; s < S; ++s) {
            a0 = V::add(a0, V::maskz(m[s * nvj].m, V::load(t + s * s_step)));
          }
        }
        if (accumulate) a0 = V::add(load_dx(row + jv * W), a0);
        store_dx(row + jv * W, a0);
      }
    }
  }
}

// dx (C, H, W) (+)= the scatter of one band's col (CRS, nr * Q; output rows p0 .. p0 + nr), as a
// gather: dx[c, h, j] (+)= sum_{r, s} col[(c,r,s), (h + pt - r - p0) * Q + j + pl - s] over the
// taps whose output position (p, q) = (h + pt - r, j + pl - s) lies in the band and in [0, Q).
// Whole vectors along j: lanes whose q is outside [0, Q) (they read a neighbouring row, junk, or
// the zero slack around col) or whose j >= W are masked off (masks[s * nvj + jv]). Taps are
// summed in (r, s) order: deterministic. With accumulate false (a single band) every row is
// overwritten: no zeroing pass; a row's last vector spills zeros into the next row, which is
// written after it. The last vector of the image is stored partially.
// prefetch (may be null): pf_total floats to prefetch to L2 along the way (the next image's dy,
// whose copy would otherwise wait for memory).
template <class V>
void dgrad_gather(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                  const float* col, int64_t p0, int64_t nr, bool accumulate, float* dx,
                  const float* prefetch, int64_t pf_total) {
  if (g.S == 3) {
    dgrad_gather_s<V, 3>(g, b, masks, col, p0, nr, accumulate, dx, prefetch, pf_total);
  } else {
    dgrad_gather_s<V, 0>(g, b, masks, col, p0, nr, accumulate, dx, prefetch, pf_total);
  }
}

// dst[0, n) = src[0, n), dst[n, ld) = 0 (ld a multiple of V::W).
template <class V>
void copy_zero_fill(const float* src, int64_t n, float* dst, int64_t ld) {
  const int64_t nv = n / V::W * V::W;
  int64_t i = 0;
  for (; i < nv; i += V::W) V::store(dst + i, V::load(src + i));
  for (; i < n; ++i) dst[i] = src[i];
  for (; i % V::W; ++i) dst[i] = 0.0f;
  for (; i < ld; i += V::W) V::store(dst + i, V::zero());
}

// One image of the stride-1 col path: dx (C, H, W) = the transpose of the convolution applied to
// dy (K, P, Q). Per band of output rows: col (CRS, nr*Q) = w^T dy[:, band] (a GEMM on dy's rows
// copied to whole tiles; wtp = w^T packed), then gathered into dx (dgrad_gather). col points into
// a per-thread buffer with b.front / b.back floats of zeros around it; dyb holds K * b.ldc.
// Measured against laying dy out Q + S - 1 wide with zero junk columns (so that the scatter is
// one contiguous vector add per (c, r, s)): that GEMM computes the junk too, 9 instead of 8
// tiles per image for the lecture net's 11x11 output; 2.45 vs 2.36 ms for its batch of 64.
template <class V, class Cfg>
void dgrad_col_image(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                     const float* dy, const float* dy_next, const float* wtp, float* col,
                     float* dyb, float* dx, int threads) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  const bool one_band = b.rows >= g.P;
  if (!one_band) std::memset(dx, 0, g.C * g.H * g.W * sizeof(float));
  for (int64_t p0 = 0; p0 < g.P; p0 += b.rows) {
    const int64_t nr = std::min(b.rows, g.P - p0), n = nr * g.Q;
    const int64_t ld = (n + b.tile - 1) / b.tile * b.tile;
    // The band of dy with rows of whole tiles, zero-filled: aligned rows for the GEMM's B loads
    // (dy's own rows of P*Q floats are not) and no masked tail tile.
    for (int64_t k = 0; k < g.K; ++k) {
      copy_zero_fill<V>(dy + k * PQ + p0 * g.Q, n, dyb + k * ld, ld);
    }
    GemmNN gg;
    gg.M = CRS, gg.N = ld, gg.J = g.K, gg.A = wtp, gg.a_packed = true, gg.B = dyb, gg.ldb = ld,
    gg.C = col, gg.ldc = b.ldc;
    gemm_nn<V, Cfg>(gg, threads);
    // While gathering the last band, prefetch the next image's dy (dy_next, may be null).
    const bool last = p0 + b.rows >= g.P;
    dgrad_gather<V>(g, b, masks, col, p0, nr, !one_band, dx, last ? dy_next : nullptr, g.K * PQ);
  }
}

// masks[s * nvj + jv], lane i: the input column j = jv*W + i is < W and its output column
// q = j + pad_left - s is in [0, Q).
template <class V>
std::vector<LaneMask<V>> dgrad_masks(const Conv2dGeometry& g, const DgradBanding& b) {
  float lane[V::W];
  for (int i = 0; i < V::W; ++i) lane[i] = static_cast<float>(i);
  const typename V::R idx = V::load(lane);
  std::vector<LaneMask<V>> m(static_cast<size_t>(g.S * b.nvj));
  for (int64_t s = 0; s < g.S; ++s)
    for (int64_t jv = 0; jv < b.nvj; ++jv) {
      const typename V::R j = V::add(idx, V::set1(float(jv * V::W)));
      const typename V::R q = V::add(j, V::set1(float(g.pad_left - s)));
      m[s * b.nvj + jv].m =
          V::mand(V::mand(V::gt(q, V::set1(-0.5f)), V::gt(V::set1(g.Q - 0.5f), q)),
                  V::gt(V::set1(g.W - 0.5f), j));
    }
  return m;
}

// Stride 1: either a correlation of dy (padded by R-1-pad) with the flipped weights, on the
// shifted-row GEMM (no extra pass; but every tap that lands in the padding is computed), or
// col = w^T dy followed by a gather (dgrad_col_image). The lecture net's 13x13 input grad
// computes 1.63x the useful FMAs as a correlation and 1.06x via col, while the 64->64 layer with
// padding 1 costs about the same FMAs both ways and the correlation needs no gather: pick by
// estimated cost.
template <class V, class Cfg>
DgradPath dgrad_choose_path(const Conv2dGeometry& g, const DgradBanding& band) {
  const int64_t KRS = g.K * g.R * g.S;
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.C).nr) * V::W;
  const int64_t wp = g.W + g.S - 1;
  const double corr = double(g.C) * ((g.H * wp + tile - 1) / tile * tile) * KRS;
  return corr <= dgrad_col_cost<V>(g, band) ? DgradPath::correlate : DgradPath::col;
}

// Columns of the strided input gradient's GEMM: images are added to one GEMM until it has about
// this many (AVX2, 1 thread, allconv's 64->128 3x3 s2 layer at batch 128: see the commit).
constexpr int64_t kDgradStridedColumns = 256;

// nb images of dy (each (K, PQ)) side by side as dst (K, ld): image j's columns at j PQ, the
// columns past nb PQ zero (the GEMM reads whole register tiles).
inline void gather_dy_images(const float* dy, int64_t nb, int64_t K, int64_t PQ, float* dst,
                             int64_t ld) {
  for (int64_t k = 0; k < K; ++k) {
    float* d = dst + k * ld;
    for (int64_t j = 0; j < nb; ++j)
      std::memcpy(d + j * PQ, dy + (j * K + k) * PQ, PQ * sizeof(float));
    std::memset(d + nb * PQ, 0, (ld - nb * PQ) * sizeof(float));
  }
}

// Strided input gradients with this many input channels or more take the phases on the blocked
// direct kernel (conv_dgrad_phases_impl.h), whose vectors run over the C channels of dx.
// Intel Xeon (AVX-512, 2 FMA pipes), 1 thread, batch 128, thread CPU time, 2 alternating rounds
// (benchmarks/conv_shapes.cpp), % of peak against col + col2im: allconv's 32->64 and 64->128 3x3
// s2 layers 21 / 23 -> 39 / 39-40%, the small ResNet's 16->32 and 32->64 17 / 20 -> 33 / 36%;
// capped at AVX2 25 / 26 / 20 / 23 -> 31 / 30 / 26 / 27%. With C = 3 (a first layer, whose input
// gradient training does not ask for) the phases took 6% of peak, as forward convolutions with 3
// output channels, against col's 23%.
constexpr int64_t kDgradPhasesMinChannels = 16;

template <class V, class Cfg>
void conv2d_backward_input_path(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                                int threads, DgradPath path) {
  const int64_t CRS = g.C * g.R * g.S, KRS = g.K * g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  if (g.N == 0 || g.C == 0 || HW == 0) return;
  if (g.K == 0 || PQ == 0) {
    std::memset(dx, 0, g.N * g.C * HW * sizeof(float));
    return;
  }
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
  const bool stride1 = g.stride_h == 1 && g.stride_w == 1;
  DgradBanding band{};
  if (stride1) band = make_dgrad_banding<V, Cfg>(g);
  if (stride1 && path == DgradPath::automatic) {
    // Winograd's adjoint wherever the forward takes Winograd (AVX2, 1 thread, batch 64: the
    // lecture net's conv 2 1.8 ms against 2.4 on col + gather; the 64->64 56x56 layer 57-61 ms,
    // as the Winograd correlation of dy with the flipped weights it replaced).
    path = winograd_suits(g.C, g.K, g) ? DgradPath::winograd : dgrad_choose_path<V, Cfg>(g, band);
  }
  if (path == DgradPath::winograd && winograd_applies(g)) {
    winograd_backward<V, Cfg>(g, nullptr, w, dy, dx, nullptr, nullptr, threads);
    return;
  }
  if (stride1 && path == DgradPath::correlate) {
    // dx = correlation of dy, padded by (R-1-pad_top, S-1-pad_left), with the flipped,
    // transposed weights wt[c, (k, r', s')] = w[k, c, R-1-r', S-1-s'].
    const Banding cband = make_banding(g.K, g.R, g.S, g.H, g.W);
    float* shared = scratch(Scratch::c, g.C * KRS + 2 * KRS + packed_nn_a_size<Cfg>(g.C, KRS));
    auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
    float* wt = shared + 2 * KRS;
    float* wtp = wt + g.C * KRS;
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s) {
            wt[c * KRS + (k * g.R + r) * g.S + s] =
                w[((k * g.C + c) * g.R + (g.R - 1 - r)) * g.S + (g.S - 1 - s)];
          }
    band_offsets(g.K, g.R, g.S, cband, off);
    pack_nn_a<Cfg>(g.C, KRS, wt, KRS, 1, wtp);
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        correlate_image<V, Cfg>(dy + n * g.K * PQ, g.K, g.P, g.Q, g.R - 1 - g.pad_top,
                                g.S - 1 - g.pad_left, wtp, g.C, g.R, g.S, g.H, g.W, cband, off,
                                nullptr, Activation::none, dx + n * g.C * HW, inner);
      }
    });
    return;
  }
  // w^T (CRS, K) packed once, shared by the threads.
  float* wtp = scratch(Scratch::c, packed_nn_a_size<Cfg>(CRS, g.K));
  pack_nn_a<Cfg>(CRS, g.K, w, 1, CRS, wtp);
  if (stride1) {
    const std::vector<LaneMask<V>> masks = dgrad_masks<V>(g, band);
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      const int64_t n_col = CRS * band.ldc;
      float* buf = scratch(Scratch::a, band.front + n_col + band.back);
      float* dyb = scratch(Scratch::b, g.K * band.ldc);
      float* col = buf + band.front;
      // The slack dgrad_gather reads (masked off): zeros, not stale floats.
      std::memset(buf, 0, band.front * sizeof(float));
      std::memset(col + n_col, 0, band.back * sizeof(float));
      for (int64_t n = n0; n < n1; ++n) {
        const float* dyn = dy + n * g.K * PQ;
        dgrad_col_image<V, Cfg>(g, band, masks.data(), dyn, n + 1 < n1 ? dyn + g.K * PQ : nullptr,
                                wtp, col, dyb, dx + n * g.C * HW, inner);
      }
    });
    return;
  }
  if (path == DgradPath::phases ||
      (path == DgradPath::automatic && g.C >= kDgradPhasesMinChannels)) {
    const DgradPhasePlan plan = make_dgrad_phase_plan<V>(g);
    if (plan.applies()) return conv2d_backward_input_phases<V>(g, plan, dy, w, dx, threads);
  }
  // Other strides: col (CRS, nb PQ) = w^T [dy[n] ... dy[n + nb - 1]] (K, nb PQ), then each
  // image's columns scattered back to its input positions (col2im). Several images share one GEMM
  // because a strided layer's PQ is small (allconv's 128-channel 3x3 s2 layer: 16) and the GEMM's
  // columns are rounded up to whole register tiles: one image a GEMM ran it at ~20% of the peak.
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(CRS).nr) * V::W;
  const int64_t nb_max = std::max<int64_t>(1, kDgradStridedColumns / PQ);
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    const int64_t nb_cap = std::min(nb_max, n1 - n0);
    const int64_t ld_cap = (nb_cap * PQ + tile - 1) / tile * tile;
    float* col = scratch(Scratch::a, CRS * ld_cap);
    float* dyn = scratch(Scratch::b, g.K * ld_cap);
    for (int64_t n = n0; n < n1; n += nb_cap) {
      const int64_t nb = std::min(nb_cap, n1 - n);
      const int64_t ld = (nb * PQ + tile - 1) / tile * tile;
      gather_dy_images(dy + n * g.K * PQ, nb, g.K, PQ, dyn, ld);
      GemmNN gg;
      gg.M = CRS, gg.N = ld, gg.J = g.K, gg.A = wtp, gg.a_packed = true, gg.B = dyn, gg.ldb = ld,
      gg.C = col, gg.ldc = ld;
      gemm_nn<V, Cfg>(gg, inner);
      for (int64_t j = 0; j < nb; ++j) {
        float* dxn = dx + (n + j) * g.C * HW;
        std::memset(dxn, 0, g.C * HW * sizeof(float));
        col2im_add_any_stride<V>(g, col + j * PQ, dxn, ld);
      }
    }
  });
}

template <class V, class Cfg>
void conv2d_backward_input(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                           int threads) {
  if (pointwise_applies(g) && g.N > 0 && g.C > 0 && g.K > 0 && g.P * g.Q > 0) {
    return conv2d_backward_input_pointwise<V, Cfg>(g, dy, w, dx, threads);  // 1x1: W^T dy
  }
  conv2d_backward_input_path<V, Cfg>(g, dy, w, dx, threads, DgradPath::automatic);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
