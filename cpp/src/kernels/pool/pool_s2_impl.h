// Max and average pooling with column stride 2 (the 3x3 / stride 2 stems of ResNet and AlexNet,
// pad 0 or 1; any kernel width 2..8, any kernel height and row stride): the separable scheme of
// pool_general_impl.h (each input row reduced over the kernel's columns, then each output row
// over its window's rows), with the per-element costs taken out:
//   - the input row goes into the padded scratch row by whole vectors (the padding, -inf or 0, is
//     written once per plane), not by memcpy / std::fill calls per row;
//   - a window's columns come from V::deinterleave_in_lanes (no lane-crossing permutes; the
//     result is put in order once per block by V::in_order);
//   - max is V::max(later, earlier), which keeps the earlier element on equal values, so the
//     first maximum in row-major window order wins, down to the sign of a zero. A NaN anywhere in
//     the plane (seen while copying the rows) makes the caller redo the plane by the general,
//     NaN-aware kernel (first NaN wins).
// The argmax (training) is found after the maximum: the first element of the window equal to it
// (a reverse scan of selects), rows and columns as floats (exact: the plane is below 2^24).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/pool/pool_avg_rows_impl.h"
#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

constexpr int64_t kPoolS2MaxKernelW = 8;

// 0, 2, 4, ...: each lane's first column, relative to its block's.
alignas(64) constexpr float kLaneIndex2[16] = {0,  2,  4,  6,  8,  10, 12, 14,
                                               16, 18, 20, 22, 24, 26, 28, 30};

// Whether the stride-2 kernels handle g (otherwise the general ones).
inline bool pool_s2_ok(const Pool2dGeometry& g) {
  return g.stride_w == 2 && g.kernel_w >= 2 && g.kernel_w <= kPoolS2MaxKernelW &&
         g.H * g.W < (int64_t{1} << 24);
}

// The scratch row: pad_w pad values, the W input floats, pad values up to every float the last
// block of windows reads (2 Qv + kernel_w + one vector).
template <class V>
int64_t pool_s2_row_len(const Pool2dGeometry& g, int64_t Qv) {
  return std::max<int64_t>(2 * Qv + g.kernel_w, g.pad_w + g.W) + 2 * V::W;
}

// buf[pad_w, pad_w + W) = x[0, W); returns x's NaN lanes OR-ed into `nan`.
template <class V>
inline void pool_s2_copy_row(const Pool2dGeometry& g, const float* x, float* buf,
                             typename V::M& nan) {
  using R = typename V::R;
  float* d = buf + g.pad_w;
  if (g.W < V::W) {
    bool found = false;
    for (int64_t w = 0; w < g.W; ++w) {
      d[w] = x[w];
      found |= x[w] != x[w];
    }
    if (found) nan = V::isnan(V::set1(std::numeric_limits<float>::quiet_NaN()));
    return;
  }
  int64_t w = 0;
  for (; w + V::W <= g.W; w += V::W) {
    const R v = V::load(x + w);
    nan = V::mor(nan, V::isnan(v));
    V::store(d + w, v);
  }
  if (w < g.W) {  // the last whole vector, overlapping the one before
    const R v = V::load(x + g.W - V::W);
    nan = V::mor(nan, V::isnan(v));
    V::store(d + g.W - V::W, v);
  }
}

// One padded row (buf) -> t[0, Qv): each window's max (or sum) over its kernel_w columns, and with
// `col`, the column of the first element equal to the max (a float; a left padding column, which
// wins only when every real element is -inf, gives the first real one, 0, as the reference).
// KW: the kernel width, a constant so that a window's columns stay in registers.
template <class V, bool Max, int KW>
inline void pool_s2_row(const Pool2dGeometry& g, int64_t Qv, const float* buf, float* t,
                        float* col) {
  using R = typename V::R;
  constexpr int kw = KW;
  for (int64_t q0 = 0; q0 < Qv; q0 += V::W) {
    const float* p = buf + 2 * q0;
    R e[KW + 1];  // (e[KW]: an odd width's unused last odd column)
    for (int j = 0; j < kw; j += 2) {
      V::deinterleave_in_lanes(V::load(p + j), V::load(p + j + V::W), e[j], e[j + 1]);
    }
    R acc = e[0];
    for (int j = 1; j < kw; ++j) acc = Max ? V::max(e[j], acc) : V::add(acc, e[j]);
    V::store(t + q0, V::in_order(acc));
    if (Max && col) {
      R code = V::set1(static_cast<float>(kw - 1));
      for (int j = kw - 2; j >= 0; --j) {
        code = V::select(V::eq(e[j], acc), code, V::set1(static_cast<float>(j)));
      }
      // Column of lane i's element j: 2 (q0 + i) - pad_w + j.
      const R c =
          V::add(V::add(V::load(kLaneIndex2), V::set1(static_cast<float>(2 * q0 - g.pad_w))),
                 V::in_order(code));
      V::store(col + q0, V::max(c, V::zero()));
    }
  }
}

// Stores the first n = min(W, Q - q0) lanes of v at y + q0; a whole vector when that stays inside
// [y, y_end) (what it overwrites past n is written again later: the plane's next rows).
template <class V>
inline void pool_s2_store(float* y, const typename V::R& v, int64_t q0, int64_t Q,
                          const float* y_end) {
  if (q0 + V::W <= Q || y + q0 + V::W <= y_end) {
    V::store(y + q0, v);
  } else {
    V::store_partial(y + q0, v, static_cast<int>(Q - q0));
  }
}

// One plane of max pooling, y (P, Q) and, with `argmax`, each winner's flat index h * W + w.
// buf: the scratch row (pool_s2_row_len); t, tcol: H rows of Qv floats. Returns false, with y
// and argmax unspecified, when the plane holds a NaN (the caller redoes it).
template <class V, int KW>
bool max_pool_s2_plane_kw(const Pool2dGeometry& g, int64_t Qv, const float* x, float* y,
                          int32_t* argmax, float* buf, float* t, float* tcol) {
  using R = typename V::R;
  std::fill(buf, buf + pool_s2_row_len<V>(g, Qv), -std::numeric_limits<float>::infinity());
  typename V::M nan = V::gt(V::zero(), V::zero());  // no lanes
  for (int64_t h = 0; h < g.H; ++h) {
    pool_s2_copy_row<V>(g, x + h * g.W, buf, nan);
    pool_s2_row<V, true, KW>(g, Qv, buf, t + h * Qv, argmax ? tcol + h * Qv : nullptr);
  }
  if (V::any(nan)) return false;
  const float* y_end = y + g.P * g.Q;
  alignas(64) float idx[16];
  for (int64_t p = 0; p < g.P; ++p) {
    const int64_t hs = p * g.stride_h - g.pad_h;
    const int64_t h0 = std::max<int64_t>(hs, 0), h1 = std::min(hs + g.kernel_h, g.H);
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      R best = V::load(t + h0 * Qv + q0);
      for (int64_t h = h0 + 1; h < h1; ++h) best = V::max(V::load(t + h * Qv + q0), best);
      pool_s2_store<V>(y + p * g.Q, best, q0, g.Q, y_end);
      if (!argmax) continue;
      // The first row whose max equals the window's, and that row's winning column.
      R r = V::set1(static_cast<float>(h1 - 1)), c = V::load(tcol + (h1 - 1) * Qv + q0);
      for (int64_t h = h1 - 2; h >= h0; --h) {
        const typename V::M m = V::eq(V::load(t + h * Qv + q0), best);
        r = V::select(m, r, V::set1(static_cast<float>(h)));
        c = V::select(m, c, V::load(tcol + h * Qv + q0));
      }
      V::store(idx, V::fmadd(r, V::set1(static_cast<float>(g.W)), c));
      const int64_t n = std::min<int64_t>(V::W, g.Q - q0);
      int32_t* am = argmax + p * g.Q + q0;
      for (int64_t i = 0; i < n; ++i) am[i] = static_cast<int32_t>(idx[i]);
    }
  }
  return true;
}

// One plane of average pooling (the sum over a window's rows of its rows' column sums).
// counts: each q's in-input columns (column_counts in pool_general_impl.h).
template <class V, int KW>
void avg_pool_s2_plane_kw(const Pool2dGeometry& g, int64_t Qv, bool include_pad,
                          const float* counts, const float* x, float* y, float* buf, float* t) {
  using R = typename V::R;
  std::fill(buf, buf + pool_s2_row_len<V>(g, Qv), 0.0f);
  typename V::M nan = V::gt(V::zero(), V::zero());  // unused: NaN propagates through sums
  for (int64_t h = 0; h < g.H; ++h) {
    pool_s2_copy_row<V>(g, x + h * g.W, buf, nan);
    pool_s2_row<V, false, KW>(g, Qv, buf, t + h * Qv, nullptr);
  }
  const R area = V::set1(
      static_cast<float>(static_cast<double>(g.kernel_h) * static_cast<double>(g.kernel_w)));
  const float* y_end = y + g.P * g.Q;
  for (int64_t p = 0; p < g.P; ++p) {
    const int64_t hs = p * g.stride_h - g.pad_h;
    const int64_t h0 = std::max<int64_t>(hs, 0), h1 = std::min(hs + g.kernel_h, g.H);
    const R nrows = V::set1(static_cast<float>(h1 - h0));
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      R sum = V::load(t + h0 * Qv + q0);
      for (int64_t h = h0 + 1; h < h1; ++h) sum = V::add(sum, V::load(t + h * Qv + q0));
      const R div = include_pad ? area : V::mul(nrows, V::load(counts + q0));
      pool_s2_store<V>(y + p * g.Q, V::div(sum, div), q0, g.Q, y_end);
    }
  }
}

// Average pooling's backward for one plane, the transpose of avg_pool_s2_plane: t[h] = the sum of
// dy[p] / divisor over the windows p holding row h, then each row's column scatter, which for
// stride 2 is two sums of shifted t rows: padded column 2m (even) receives t[m - j / 2] for the
// even kernel columns j, column 2m + 1 (odd) t[m - (j - 1) / 2] for the odd ones. So each dx row
// is written once, from registers (no read-modify-write of a scratch row per kernel column).
// tz: pool_s2_tz_len floats; buf: pool_s2_row_len; t: H rows of Qv floats.
inline int64_t pool_s2_even_blocks(const Pool2dGeometry& g, int64_t W) {
  return ((g.pad_w + g.W + 1) / 2 + W - 1) / W * W;  // padded columns 2m, 2m + 1 covering the row
}
template <class V>
int64_t pool_s2_tz_len(const Pool2dGeometry& g, int64_t Qv) {
  return std::max(Qv, pool_s2_even_blocks(g, V::W)) + 2 * V::W;
}

template <class V, int KW>
void avg_pool_s2_backward_plane_kw(const Pool2dGeometry& g, int64_t Qv, bool include_pad,
                                   const float* counts, const float* dy, float* dx, float* buf,
                                   float* t, float* tz) {
  using R = typename V::R;
  avg_pool_scatter_rows<V>(g, Qv, include_pad, counts, dy, t);
  std::fill(tz, tz + pool_s2_tz_len<V>(g, Qv), 0.0f);  // V::W zeros, the row, zeros past it
  const int64_t M = pool_s2_even_blocks(g, V::W);
  float* row = tz + V::W;
  for (int64_t h = 0; h < g.H; ++h) {
    for (int64_t q0 = 0; q0 < Qv; q0 += V::W) V::store(row + q0, V::load(t + h * Qv + q0));
    for (int64_t m0 = 0; m0 < M; m0 += V::W) {
      R even = V::load(row + m0), odd = V::load(row + m0);
      for (int j = 2; j < KW; j += 2) even = V::add(even, V::load(row + m0 - j / 2));
      for (int j = 3; j < KW; j += 2) odd = V::add(odd, V::load(row + m0 - (j - 1) / 2));
      R lo, hi;
      V::interleave(even, odd, lo, hi);
      V::store(buf + 2 * m0, lo);
      V::store(buf + 2 * m0 + V::W, hi);
    }
    const float* src = buf + g.pad_w;
    float* d = dx + h * g.W;
    if (g.W < V::W) {
      for (int64_t w = 0; w < g.W; ++w) d[w] = src[w];
      continue;
    }
    int64_t w = 0;
    for (; w + V::W <= g.W; w += V::W) V::store(d + w, V::load(src + w));
    if (w < g.W) V::store(d + g.W - V::W, V::load(src + g.W - V::W));
  }
}

// Calls f(std::integral_constant<int, kernel_w>) (2..kPoolS2MaxKernelW).
template <class F>
inline decltype(auto) with_kernel_w(int64_t kw, F f) {
  switch (kw) {
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    default:
      return f(std::integral_constant<int, 8>{});
  }
}

template <class V>
bool max_pool_s2_plane(const Pool2dGeometry& g, int64_t Qv, const float* x, float* y,
                       int32_t* argmax, float* buf, float* t, float* tcol) {
  return with_kernel_w(g.kernel_w, [&](auto kw) {
    return max_pool_s2_plane_kw<V, decltype(kw)::value>(g, Qv, x, y, argmax, buf, t, tcol);
  });
}

template <class V>
void avg_pool_s2_plane(const Pool2dGeometry& g, int64_t Qv, bool include_pad, const float* counts,
                       const float* x, float* y, float* buf, float* t) {
  with_kernel_w(g.kernel_w, [&](auto kw) {
    avg_pool_s2_plane_kw<V, decltype(kw)::value>(g, Qv, include_pad, counts, x, y, buf, t);
  });
}

template <class V>
void avg_pool_s2_backward_plane(const Pool2dGeometry& g, int64_t Qv, bool include_pad,
                                const float* counts, const float* dy, float* dx, float* buf,
                                float* t, float* tz) {
  with_kernel_w(g.kernel_w, [&](auto kw) {
    avg_pool_s2_backward_plane_kw<V, decltype(kw)::value>(g, Qv, include_pad, counts, dy, dx, buf,
                                                          t, tz);
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
