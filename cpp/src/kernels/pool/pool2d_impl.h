// Pooling kernels, compiled once per ISA (the loops are written so that the compiler vectorises
// them with the translation unit's instruction set: pooling is bound by memory bandwidth, not by
// arithmetic, so plain branch-free loops are enough to run at memory speed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/pool/pool2d.h"
#include "kernels/pool/pool2d_ref.h"
#include "kernels/pool/pool_general_impl.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// The window rule of max_pool2d_forward_ref, lane-wise: take v over best if v > best, or if v is
// NaN and best is not (so the first maximum in row-major order wins and NaN propagates).
template <class V>
inline typename V::M takes_over(const typename V::R& v, const typename V::R& best) {
  return V::mor(V::gt(v, best), V::mandnot(V::isnan(v), V::isnan(best)));
}

// One output row of a 2x2 / stride 2 max pool: y[q] = the window max of (r0[2q], r0[2q+1],
// r1[2q], r1[2q+1]); with `am`, also the flat index (base = index of r0[0] in its plane).
// 2t consecutive floats of a row (t <= W windows; lanes past them read as 0 and are not
// touched in memory) as (even, odd) = the windows' left and right columns.
template <class V>
inline void load_pairs(const float* p, int t, typename V::R& even, typename V::R& odd) {
  if (t == V::W) {
    V::deinterleave(V::load(p), V::load(p + V::W), even, odd);
  } else {
    const int n = 2 * t;
    V::deinterleave(V::load_partial(p, std::min(n, V::W)),
                    V::load_partial(p + V::W, std::max(n - V::W, 0)), even, odd);
  }
}

template <class V>
inline void store_pairs(float* p, int t, const typename V::R& even, const typename V::R& odd) {
  typename V::R lo, hi;
  V::interleave(even, odd, lo, hi);
  if (t == V::W) {
    V::store(p, lo);
    V::store(p + V::W, hi);
  } else {
    const int n = 2 * t;
    V::store_partial(p, lo, std::min(n, V::W));
    V::store_partial(p + V::W, hi, std::max(n - V::W, 0));
  }
}

// The rule of window_max (below) for windows without NaNs: three maxes. V::max(x, e) keeps e
// on equal values, so with the earlier element as e the first maximum wins, down to the sign of
// a zero. (The rule as written costs ~5x the instructions and made pooling compute-bound.)
template <class V>
inline typename V::R window_max_no_nan(const typename V::R& a, const typename V::R& b,
                                       const typename V::R& c, const typename V::R& d,
                                       typename V::R* win) {
  using R = typename V::R;
  const R best = V::max(V::max(d, c), V::max(b, a));
  if (win) {  // the first element equal to the maximum: the one the rule kept
    R code = V::set1(3.0f);
    code = V::select(V::eq(c, best), code, V::set1(2.0f));
    code = V::select(V::eq(b, best), code, V::set1(1.0f));
    *win = V::select(V::eq(a, best), code, V::zero());
  }
  return best;
}

// The 2x2 window rule of max_pool2d_forward_ref, lane-wise, on a window's four elements in
// row-major order (a b / c d): the first maximum wins and NaN propagates (the first NaN); with
// `win`, also which element won (0 top left, 1 top right, 2 bottom left, 3 bottom right: the
// winners, as floats).
template <class V>
inline typename V::R window_max(const typename V::R& a, const typename V::R& b,
                                const typename V::R& c, const typename V::R& d,
                                typename V::R* win = nullptr) {
  using R = typename V::R;
  if (!V::any(V::mor(V::either_nan(a, b), V::either_nan(c, d)))) {
    return window_max_no_nan<V>(a, b, c, d, win);
  }
  R best = a, code = V::zero();
  const R v[3] = {b, c, d};
  for (int k = 0; k < 3; ++k) {
    const typename V::M m = takes_over<V>(v[k], best);
    best = V::select(m, best, v[k]);
    if (win) code = V::select(m, code, V::set1(static_cast<float>(k + 1)));
  }
  if (win) *win = code;
  return best;
}

// The window maxima (and winners, see window_max) of t <= W windows of rows r0, r1.
template <class V>
inline typename V::R maxpool2x2_block(const float* r0, const float* r1, int t,
                                      typename V::R* win = nullptr) {
  typename V::R a, b, c, d;
  load_pairs<V>(r0, t, a, b);
  load_pairs<V>(r1, t, c, d);
  return window_max<V>(a, b, c, d, win);
}

// W whole windows of rows r0, r1 by window_max_no_nan, without looking for NaNs: lanes of `nan`
// are set where the loaded floats hold one, and the caller redoes the block by the full rule.
// Checking once per row instead of once per block, and putting the lanes in order once per
// result (V::deinterleave_in_lanes) instead of once per input, took the 2x2 pool of
// 32x64x56x56 from 1.43-1.67 to 1.38-1.51 ms (C++, AVX2, 1 thread, interleaved runs; standalone
// copies of the two loops: 1.6-1.9 and 1.3-1.5 ms). At the memory's pace a block of 8 windows
// has only ~5 cycles, so its instruction count shows.
template <class V>
inline typename V::R maxpool2x2_block_unchecked(const float* r0, const float* r1,
                                                typename V::M& nan, typename V::R* win) {
  using R = typename V::R;
  const R x0 = V::load(r0), x1 = V::load(r0 + V::W), x2 = V::load(r1), x3 = V::load(r1 + V::W);
  nan = V::mor(nan, V::mor(V::either_nan(x0, x1), V::either_nan(x2, x3)));
  R a, b, c, d;
  V::deinterleave_in_lanes(x0, x1, a, b);
  V::deinterleave_in_lanes(x2, x3, c, d);
  const R best = window_max_no_nan<V>(a, b, c, d, win);
  if (win) *win = V::in_order(*win);
  return V::in_order(best);
}

// `end`: the end of x's buffer. A tail block reads whole vectors when that stays inside x (the
// extra lanes are the next row's values, never stored): masked loads are slow on AMD.
// `y_spill_ok`: a short row may store a whole vector (y's next row(s) are written afterwards).
// `win` (may be null; only without `am`): the winners (see maxpool2x2_block), laid out as y.
template <class V>
void maxpool2x2_row(const float* r0, const float* r1, int64_t Q, float* y, int32_t* am,
                    int32_t base, int32_t W, const float* end, bool y_spill_ok,
                    float* win = nullptr) {
  int64_t q = 0;
  if (!am) {
    typename V::R code;
    typename V::R* pc = win ? &code : nullptr;
    if (Q >= V::W) {
      // Whole blocks, the last one ending at Q (overlapping the one before, which writes the same
      // values again); a row with a NaN is redone by the full rule.
      const auto each_block = [&](auto block) {
        for (int64_t b = 0;; b += V::W) {
          b = std::min(b, Q - V::W);
          V::store(y + b, block(r0 + 2 * b, r1 + 2 * b));
          if (win) V::store(win + b, code);
          if (b + V::W == Q) break;
        }
      };
      typename V::M nan = V::either_nan(V::zero(), V::zero());  // no lanes
      each_block([&](const float* b0, const float* b1) {
        return maxpool2x2_block_unchecked<V>(b0, b1, nan, pc);
      });
      if (V::any(nan)) {
        each_block([&](const float* b0, const float* b1) {
          return maxpool2x2_block<V>(b0, b1, V::W, pc);
        });
      }
      return;
    }
    // A row shorter than a vector: masked loads (the lecture net's rows are only 13 and 5
    // windows wide, so this tail is a large part of its pooling, and partial stores cost ~10x a
    // whole one on AMD).
    if (q < Q) {
      const int t = static_cast<int>(Q - q);
      const bool whole = r1 + 2 * q + 2 * V::W <= end;
      if (whole && y_spill_ok) {
        V::store(y + q, maxpool2x2_block<V>(r0 + 2 * q, r1 + 2 * q, V::W, pc));
        if (win) V::store(win + q, code);
        return;
      }
      V::store_partial(y + q, maxpool2x2_block<V>(r0 + 2 * q, r1 + 2 * q, whole ? V::W : t, pc), t);
      if (win) V::store_partial(win + q, code, t);
    }
    return;
  }
  for (; q < Q; ++q) {
    const float v[4] = {r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]};
    const int32_t d[4] = {0, 1, W, W + 1};
    float best = v[0];
    int32_t idx = 0;
    for (int k = 1; k < 4; ++k) {
      if (v[k] > best || (v[k] != v[k] && best == best)) {
        best = v[k];
        idx = d[k];
      }
    }
    y[q] = best;
    am[q] = base + 2 * static_cast<int32_t>(q) + idx;
  }
}

// Gradient of up to t <= W windows from their winners (maxpool2x2_block): dy goes to the element
// that won, zeros to the other three. Writes both input rows (every element of a 2x2 window).
template <class V>
inline void maxpool2x2_winner_block(const typename V::R& win, const typename V::R& g, float* d0,
                                    float* d1, int t) {
  const auto is = [&](float k) { return V::eq(win, V::set1(k)); };
  store_pairs<V>(d0, t, V::maskz(is(0.0f), g), V::maskz(is(1.0f), g));
  store_pairs<V>(d1, t, V::maskz(is(2.0f), g), V::maskz(is(3.0f), g));
}

// `spill_ok`: the tail may read and write whole vectors past the row's end -- true when the
// memory beyond (the next row pair of the same plane) is written again afterwards.
template <class V>
void maxpool2x2_winner_row(const float* win, const float* dy, int64_t Q, float* d0, float* d1,
                           bool spill_ok) {
  int64_t q = 0;
  for (; q + V::W <= Q; q += V::W) {
    maxpool2x2_winner_block<V>(V::load(win + q), V::load(dy + q), d0 + 2 * q, d1 + 2 * q, V::W);
  }
  if (q < Q && Q >= V::W) {  // a whole block ending at Q, as in maxpool2x2_row
    q = Q - V::W;
    maxpool2x2_winner_block<V>(V::load(win + q), V::load(dy + q), d0 + 2 * q, d1 + 2 * q, V::W);
  } else if (q < Q && spill_ok) {  // rows shorter than a vector (the lecture net's 5 windows)
    maxpool2x2_winner_block<V>(V::load(win + q), V::load(dy + q), d0 + 2 * q, d1 + 2 * q, V::W);
  } else if (q < Q) {
    const int t = static_cast<int>(Q - q);
    maxpool2x2_winner_block<V>(V::load_partial(win + q, t), V::load_partial(dy + q, t), d0 + 2 * q,
                               d1 + 2 * q, t);
  }
}

inline bool is_2x2_stride2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0 && 2 * g.P <= g.H && 2 * g.Q <= g.W;  // no 'same' extra row / column
}

// Planes [nc0, nc1) of the reference kernel (its loops are per plane).
inline Pool2dGeometry planes(const Pool2dGeometry& g, int64_t nc0, int64_t nc1) {
  Pool2dGeometry s = g;
  s.N = nc1 - nc0;
  s.C = 1;
  return s;
}

// `winners` (2x2 / stride 2 only; then argmax must be null): see maxpool2x2_block.
template <class V>
void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax,
                        float* winners, int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W, PQ = g.P * g.Q;
  if (NC == 0 || PQ == 0) return;
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + PQ), threads);
  if (!is_2x2_stride2(g) && is_global_window(g)) {     // (2x2 planes keep the winners' path)
    return global_max_pool(g, x, y, argmax, threads);  // pool/pool_global_impl.h
  }
  if (!is_2x2_stride2(g) && pool_general_ok(g)) {
    return max_pool2d_forward_general<V>(g, x, y, argmax, threads);  // pool/pool_general_impl.h
  }
  if (!is_2x2_stride2(g)) {
    parallel_for(NC, nt, [&](int64_t b, int64_t e) {
      max_pool2d_forward_ref(planes(g, b, e), x + b * HW, y + b * PQ,
                             argmax ? argmax + b * PQ : nullptr);
    });
    return;
  }
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const float* xp = x + nc * HW;
      for (int64_t p = 0; p < g.P; ++p) {
        const float* r0 = xp + 2 * p * g.W;
        maxpool2x2_row<V>(r0, r0 + g.W, g.Q, y + nc * PQ + p * g.Q,
                          argmax ? argmax + nc * PQ + p * g.Q : nullptr,
                          static_cast<int32_t>(2 * p * g.W), static_cast<int32_t>(g.W), x + NC * HW,
                          p * g.Q + V::W <= PQ, winners ? winners + nc * PQ + p * g.Q : nullptr);
      }
    }
  });
}

template <class V>
void max_pool2d_backward(const Pool2dGeometry& g, const float* dy, const int32_t* argmax, float* dx,
                         int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W, PQ = g.P * g.Q;
  if (NC == 0 || HW == 0) return;
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + 2 * PQ), threads);
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    if (!is_2x2_stride2(g)) {
      // Overlapping windows: the reference's scatter, but one plane at a time (zeroed, then its
      // gradients added while it is still in cache) instead of zeroing all planes first. Same
      // additions in the same order: the reference's sums bit for bit.
      for (int64_t nc = b; nc < e; ++nc) {
        float* d = dx + nc * HW;
        const float* gy = dy + nc * PQ;
        const int32_t* am = argmax + nc * PQ;
        std::memset(d, 0, HW * sizeof(float));
        for (int64_t i = 0; i < PQ; ++i) d[am[i]] += gy[i];
      }
      return;
    }
    // Windows do not overlap: every input element receives at most one gradient, so dx is
    // written in one pass (no zeroing pass, no read-modify-write).
    for (int64_t nc = b; nc < e; ++nc) {
      float* d = dx + nc * HW;
      const float* gy = dy + nc * PQ;
      const int32_t* am = argmax + nc * PQ;
      for (int64_t p = 0; p < g.P; ++p) {
        float* d0 = d + 2 * p * g.W;
        float* d1 = d0 + g.W;
        const int32_t base = static_cast<int32_t>(2 * p * g.W);
        for (int64_t q = 0; q < g.Q; ++q) {
          const int32_t k = am[p * g.Q + q] - base - 2 * static_cast<int32_t>(q);
          const float v = gy[p * g.Q + q];
          d0[2 * q] = k == 0 ? v : 0.0f;
          d0[2 * q + 1] = k == 1 ? v : 0.0f;
          d1[2 * q] = k == g.W ? v : 0.0f;
          d1[2 * q + 1] = k == g.W + 1 ? v : 0.0f;
        }
        // An odd last column is in no window.
        for (int64_t w = 2 * g.Q; w < g.W; ++w) d0[w] = d1[w] = 0.0f;
      }
      // Odd last row(s) are in no window.
      if (2 * g.P < g.H) std::memset(d + 2 * g.P * g.W, 0, (g.H - 2 * g.P) * g.W * sizeof(float));
    }
  });
}

// 2x2 / stride 2 / no padding only: dx from dy and the forward's winners.
template <class V>
void max_pool2d_backward_from_winners(const Pool2dGeometry& g, const float* dy,
                                      const float* winners, float* dx, int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W, PQ = g.P * g.Q;
  if (NC == 0 || HW == 0) return;
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + 2 * PQ), threads);
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      float* d = dx + nc * HW;
      for (int64_t p = 0; p < g.P; ++p) {
        float* d0 = d + 2 * p * g.W;
        // A short row's tail may read and write whole vectors (W windows, 2W floats per input
        // row) when they stay inside this plane: what they overwrite further on is written
        // again by the later rows (or the odd-row zeroing below).
        const bool spill_ok = p * g.Q + V::W <= PQ && (2 * p + 1) * g.W + 2 * V::W <= HW;
        maxpool2x2_winner_row<V>(winners + nc * PQ + p * g.Q, dy + nc * PQ + p * g.Q, g.Q, d0,
                                 d0 + g.W, spill_ok);
        // An odd last column is in no window.
        for (int64_t w = 2 * g.Q; w < g.W; ++w) d0[w] = d0[g.W + w] = 0.0f;
      }
      // Odd last row(s) are in no window.
      if (2 * g.P < g.H) std::memset(d + 2 * g.P * g.W, 0, (g.H - 2 * g.P) * g.W * sizeof(float));
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
