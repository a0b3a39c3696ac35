// Max and average pooling for any kernel, stride and padding, vectorised for every ISA. Both are
// separable: a window's max (sum) is the max (sum) over its rows of each row's max (sum) over its
// columns. So each plane runs in two passes, both along output columns q in vectors of W lanes:
//   horizontal: every input row h -> t[h][q] = reduce over the kernel's columns (from a copy of
//     the row with its padding filled in, -inf or 0, so no lane needs clipping);
//   vertical: y[p][q] = reduce over the rows of window p (clipped to the input: whole vectors).
// Max pooling keeps the reference's rule exactly (first maximum in row-major window order, the
// first NaN wins): the horizontal pass finds each row's first winner, the vertical pass the first
// row whose winner wins, which is the row-major first. Its argmax is tracked as float column and
// row indices (exact below 2^24; larger planes take the reference). Average pooling sums in
// another order than the reference (rows first): equal up to rounding. The backward of average
// pooling is the transpose: vertical scatter of dy / divisor, then horizontal scatter.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/pool/avg_pool2d_ref.h"
#include "kernels/pool/pool_avg_rows_impl.h"
#include "kernels/pool/pool_geometry.h"
#include "kernels/pool/pool_global_impl.h"
#include "kernels/pool/pool_s2_impl.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// 0, 1, 2, ...: each lane's offset, for the column indices of the argmax.
alignas(64) constexpr float kLaneIndex[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// The sizes of one plane's scratch: a padded input row and the horizontal pass's rows.
struct PoolScratch {
  int64_t Qv;       // Q rounded up to whole vectors
  int64_t row_len;  // the padded row buffer, with room for the last vector's strided reads
};

template <class V>
PoolScratch pool_scratch(const Pool2dGeometry& g) {
  PoolScratch s;
  s.Qv = (g.Q + V::W - 1) / V::W * V::W;
  s.row_len = std::max<int64_t>((s.Qv - 1) * g.stride_w + g.kernel_w, g.W + 2 * g.pad_w) +
              std::max<int64_t>(g.stride_w, 2) * V::W + 1;
  s.row_len = std::max(s.row_len, pool_s2_row_len<V>(g, s.Qv));  // pool_s2_impl.h's row
  return s;
}

// The W floats p[0], p[s], ..., p[(W-1) s].
template <class V>
inline typename V::R load_strided(const float* p, int64_t s) {
  if (s == 1) return V::load(p);
  typename V::R even, odd;
  if (s == 2) {
    V::deinterleave(V::load(p), V::load(p + V::W), even, odd);
    return even;
  }
  alignas(64) float t[16];
  for (int i = 0; i < V::W; ++i) t[i] = p[i * s];
  return V::load(t);
}

// Column j (and, for stride 2, also column j + 1 in `next`) of the windows starting at p.
template <class V>
inline typename V::R window_column(const float* p, int64_t s, int64_t j, typename V::R* next) {
  if (s == 2 && next) {
    typename V::R even;
    V::deinterleave(V::load(p + j), V::load(p + j + V::W), even, *next);
    return even;
  }
  return load_strided<V>(p + j, s);
}

// The window rule of max_pool2d_forward_ref, lane-wise (as takes_over in pool2d_impl.h).
template <class V>
inline typename V::M pool_takes_over(const typename V::R& v, const typename V::R& best) {
  return V::mor(V::gt(v, best), V::mandnot(V::isnan(v), V::isnan(best)));
}

// One input row x (W floats) -> t (Qv floats): the max (with `col`: the winning column, a float)
// or the sum over each window's columns. `buf`: row_len floats of scratch.
template <class V, bool Max>
void pool_row_horizontal(const Pool2dGeometry& g, const PoolScratch& sc, const float* x, float* buf,
                         float* t, float* col) {
  using R = typename V::R;
  const float pad = Max ? -std::numeric_limits<float>::infinity() : 0.0f;
  std::fill(buf, buf + g.pad_w, pad);
  std::memcpy(buf + g.pad_w, x, g.W * sizeof(float));
  std::fill(buf + g.pad_w + g.W, buf + sc.row_len, pad);
  const int64_t s = g.stride_w, kw = g.kernel_w;
  const R lanes = V::mul(V::load(kLaneIndex), V::set1(static_cast<float>(s)));
  for (int64_t q0 = 0; q0 < sc.Qv; q0 += V::W) {
    const float* p = buf + q0 * s;
    // Column of the windows' first element: (q0 + lane) * s - pad_w.
    const R start = V::add(lanes, V::set1(static_cast<float>(q0 * s - g.pad_w)));
    R acc = V::zero(), c = start;
    const auto take = [&](const R& v, int64_t j) {
      if (j == 0) {
        acc = v;
      } else if (!Max) {
        acc = V::add(acc, v);
      } else {
        const typename V::M m = pool_takes_over<V>(v, acc);
        acc = V::select(m, acc, v);
        if (col) c = V::select(m, c, V::add(start, V::set1(static_cast<float>(j))));
      }
    };
    for (int64_t j = 0; j < kw;) {
      const bool pair = s == 2 && j + 1 < kw;  // one deinterleave gives columns j and j + 1
      R next = V::zero();
      take(window_column<V>(p, s, j, pair ? &next : nullptr), j);
      if (pair) take(next, j + 1);
      j += pair ? 2 : 1;
    }
    V::store(t + q0, acc);
    if (Max && col) {
      // A winner in the padding means every real element is -inf: the reference keeps the
      // first real one, column max(start, 0).
      const typename V::M inside =
          V::mandnot(V::gt(V::set1(static_cast<float>(g.W)), c), V::gt(V::zero(), c));
      V::store(col + q0, V::select(inside, V::max(start, V::zero()), c));
    }
  }
}

// Each q's divisor (count_include_pad: the kernel's area; else the in-input columns, to be
// multiplied by the in-input rows).
template <class V>
std::vector<float> column_counts(const Pool2dGeometry& g, const PoolScratch& sc) {
  std::vector<float> n(sc.Qv, 1.0f);
  for (int64_t q = 0; q < g.Q; ++q) {
    const int64_t ws = q * g.stride_w - g.pad_w;
    n[q] = static_cast<float>(std::min(ws + g.kernel_w, g.W) - std::max<int64_t>(ws, 0));
  }
  return n;
}

template <class V>
inline void store_row(float* y, const typename V::R& v, int64_t q0, int64_t Q) {
  if (q0 + V::W <= Q) {
    V::store(y + q0, v);
  } else {
    V::store_partial(y + q0, v, static_cast<int>(Q - q0));
  }
}

// One plane of max pooling: y (P, Q) and, if argmax, the flat index h * W + w of each winner.
template <class V>
void max_pool_plane(const Pool2dGeometry& g, const PoolScratch& sc, const float* x, float* y,
                    int32_t* argmax, float* buf, float* t, float* tcol) {
  using R = typename V::R;
  for (int64_t h = 0; h < g.H; ++h) {
    pool_row_horizontal<V, true>(g, sc, x + h * g.W, buf, t + h * sc.Qv,
                                 argmax ? tcol + h * sc.Qv : nullptr);
  }
  alignas(64) float rows[16], cols[16];
  for (int64_t p = 0; p < g.P; ++p) {
    int64_t h0, h1;
    window_rows(g, p, &h0, &h1);
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      R best = V::load(t + h0 * sc.Qv + q0), c = V::zero(), r = V::set1(static_cast<float>(h0));
      if (argmax) c = V::load(tcol + h0 * sc.Qv + q0);
      for (int64_t h = h0 + 1; h < h1; ++h) {
        const R v = V::load(t + h * sc.Qv + q0);
        const typename V::M m = pool_takes_over<V>(v, best);
        best = V::select(m, best, v);
        if (argmax) {
          c = V::select(m, c, V::load(tcol + h * sc.Qv + q0));
          r = V::select(m, r, V::set1(static_cast<float>(h)));
        }
      }
      store_row<V>(y + p * g.Q, best, q0, g.Q);
      if (argmax) {
        V::store(rows, r);
        V::store(cols, c);
        const int64_t n = std::min<int64_t>(V::W, g.Q - q0);
        for (int64_t i = 0; i < n; ++i) {
          argmax[p * g.Q + q0 + i] = static_cast<int32_t>(static_cast<int64_t>(rows[i]) * g.W +
                                                          static_cast<int64_t>(cols[i]));
        }
      }
    }
  }
}

// One plane of average pooling.
template <class V>
void avg_pool_plane(const Pool2dGeometry& g, const PoolScratch& sc, bool include_pad,
                    const float* counts, const float* x, float* y, float* buf, float* t) {
  using R = typename V::R;
  for (int64_t h = 0; h < g.H; ++h) {
    pool_row_horizontal<V, false>(g, sc, x + h * g.W, buf, t + h * sc.Qv, nullptr);
  }
  const R area = V::set1(
      static_cast<float>(static_cast<double>(g.kernel_h) * static_cast<double>(g.kernel_w)));
  for (int64_t p = 0; p < g.P; ++p) {
    int64_t h0, h1;
    window_rows(g, p, &h0, &h1);
    const R nrows = V::set1(static_cast<float>(h1 - h0));
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      R sum = V::load(t + h0 * sc.Qv + q0);
      for (int64_t h = h0 + 1; h < h1; ++h) sum = V::add(sum, V::load(t + h * sc.Qv + q0));
      const R div = include_pad ? area : V::mul(nrows, V::load(counts + q0));
      store_row<V>(y + p * g.Q, V::div(sum, div), q0, g.Q);
    }
  }
}

// Whether the fast kernels handle g: float row and column indices must be exact, and the
// scratch row (a vector of windows, stride_w apart) proportionate to the input; anything else
// (absurd strides, planes of 2^24 columns) takes the reference.
inline bool pool_general_ok(const Pool2dGeometry& g) {
  const int64_t limit = int64_t{1} << 24;
  return g.H + 2 * g.pad_h < limit && g.W + 2 * g.pad_w < limit &&
         g.stride_w <= g.W + 2 * g.pad_w && g.stride_h <= g.H + 2 * g.pad_h;
}

// Calls plane(nc, buf, t, tcol) for every plane, split over threads, with per-thread scratch
// (none without `scratch`).
template <class V, class Plane>
void for_pool_planes(const Pool2dGeometry& g, int threads, double bytes_per_plane, Plane plane,
                     bool scratch = true) {
  const int64_t NC = g.N * g.C;
  if (NC == 0 || g.P * g.Q == 0) return;
  const PoolScratch sc = pool_scratch<V>(g);
  const int nt = threads_for_bytes(NC, bytes_per_plane * NC, threads);
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    // (tcol also serves as avg_pool_s2_backward_plane's tz)
    std::vector<float> buf(scratch ? sc.row_len : 0), t(scratch ? g.H * sc.Qv : 0),
        tcol(scratch ? std::max(g.H * sc.Qv, pool_s2_tz_len<V>(g, sc.Qv)) : 0);
    for (int64_t nc = b; nc < e; ++nc) plane(nc, sc, buf.data(), t.data(), tcol.data());
  });
}

template <class V>
void max_pool2d_forward_general(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax,
                                int threads) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  const bool s2 = pool_s2_ok(g);
  for_pool_planes<V>(
      g, threads, 4.0 * (HW + PQ),
      [&](int64_t nc, const PoolScratch& sc, float* buf, float* t, float* tcol) {
        int32_t* am = argmax ? argmax + nc * PQ : nullptr;
        // pool_s2_impl.h; a plane with a NaN is redone by the NaN-aware rule.
        if (s2 && max_pool_s2_plane<V>(g, sc.Qv, x + nc * HW, y + nc * PQ, am, buf, t, tcol)) {
          return;
        }
        max_pool_plane<V>(g, sc, x + nc * HW, y + nc * PQ, am, buf, t, tcol);
      });
}

// The 2x2 / stride 2 / no padding average pool (LeNet's) without the scratch row: one
// deinterleave per input row pair, and the reference's own sum order ((a + b) + c) + d, so the
// result is the reference's bit for bit. Its backward writes every dx element once.
inline bool is_avg_2x2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0 && 2 * g.P <= g.H && 2 * g.Q <= g.W;  // no 'same' extra row / column
}

// 2t consecutive floats (t <= W windows) as (left, right) columns; lanes past t read as 0.
template <class V>
inline void load_window_pairs(const float* p, int t, typename V::R& left, typename V::R& right) {
  if (t == V::W) return V::deinterleave(V::load(p), V::load(p + V::W), left, right);
  const int n = 2 * t;
  V::deinterleave(V::load_partial(p, std::min(n, V::W)),
                  V::load_partial(p + V::W, std::max(n - V::W, 0)), left, right);
}

template <class V>
void avg_pool2x2_plane(const Pool2dGeometry& g, const float* x, float* y) {
  using R = typename V::R;
  const R four = V::set1(4.0f);
  for (int64_t p = 0; p < g.P; ++p) {
    const float* r0 = x + 2 * p * g.W;
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      const int t = static_cast<int>(std::min<int64_t>(V::W, g.Q - q0));
      R a, b, c, d;
      load_window_pairs<V>(r0 + 2 * q0, t, a, b);
      load_window_pairs<V>(r0 + g.W + 2 * q0, t, c, d);
      store_row<V>(y + p * g.Q, V::div(V::add(V::add(V::add(a, b), c), d), four), q0, g.Q);
    }
  }
}

template <class V>
void avg_pool2x2_backward_plane(const Pool2dGeometry& g, const float* dy, float* dx) {
  using R = typename V::R;
  const R four = V::set1(4.0f);
  for (int64_t p = 0; p < g.P; ++p) {
    float* d0 = dx + 2 * p * g.W;
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      const int t = static_cast<int>(std::min<int64_t>(V::W, g.Q - q0));
      const R share = V::div(
          t == V::W ? V::load(dy + p * g.Q + q0) : V::load_partial(dy + p * g.Q + q0, t), four);
      R lo, hi;
      V::interleave(share, share, lo, hi);
      for (float* d : {d0 + 2 * q0, d0 + g.W + 2 * q0}) {
        if (t == V::W) {
          V::store(d, lo);
          V::store(d + V::W, hi);
        } else {
          V::store_partial(d, lo, std::min(2 * t, V::W));
          V::store_partial(d + V::W, hi, std::max(2 * t - V::W, 0));
        }
      }
    }
    for (int64_t w = 2 * g.Q; w < g.W; ++w) d0[w] = d0[g.W + w] = 0.0f;  // an odd last column
  }
  if (2 * g.P < g.H) std::fill(dx + 2 * g.P * g.W, dx + g.H * g.W, 0.0f);  // odd last row
}

template <class V>
void avg_pool2d_forward(const Pool2dGeometry& g, bool include_pad, const float* x, float* y,
                        int threads) {
  if (!pool_general_ok(g))
    return kernels::avg_pool2d_forward_ref(g, include_pad, x, y);  // too large for the index math
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  if (!is_avg_2x2(g) && is_global_window(g)) {    // (2x2 planes keep the reference's sum order)
    return global_avg_pool<V>(g, x, y, threads);  // pool_global_impl.h
  }
  if (is_avg_2x2(g)) {
    return for_pool_planes<V>(
        g, threads, 4.0 * (HW + PQ),
        [&](int64_t nc, const PoolScratch&, float*, float*, float*) {
          avg_pool2x2_plane<V>(g, x + nc * HW, y + nc * PQ);
        },
        false);
  }
  const std::vector<float> counts = column_counts<V>(g, pool_scratch<V>(g));
  for_pool_planes<V>(g, threads, 4.0 * (HW + PQ),
                     [&](int64_t nc, const PoolScratch& sc, float* buf, float* t, float*) {
                       if (pool_s2_ok(g)) {  // pool_s2_impl.h
                         return avg_pool_s2_plane<V>(g, sc.Qv, include_pad, counts.data(),
                                                     x + nc * HW, y + nc * PQ, buf, t);
                       }
                       avg_pool_plane<V>(g, sc, include_pad, counts.data(), x + nc * HW,
                                         y + nc * PQ, buf, t);
                     });
}

// dx row (W floats) from t (Qv floats): dx[w] = sum of t[q] over the windows q holding column w.
template <class V>
void pool_row_scatter(const Pool2dGeometry& g, const PoolScratch& sc, const float* t, float* buf,
                      float* dx) {
  using R = typename V::R;
  std::fill(buf, buf + sc.row_len, 0.0f);
  const int64_t s = g.stride_w;
  for (int64_t j = 0; j < g.kernel_w; ++j) {
    for (int64_t q0 = 0; q0 < sc.Qv; q0 += V::W) {
      float* p = buf + q0 * s + j;
      const R v = V::load(t + q0);
      if (s == 1) {
        V::store(p, V::add(V::load(p), v));
      } else if (s == 2) {
        R even, odd, lo, hi;
        V::deinterleave(V::load(p), V::load(p + V::W), even, odd);
        V::interleave(V::add(even, v), odd, lo, hi);
        V::store(p, lo);
        V::store(p + V::W, hi);
      } else {
        alignas(64) float tv[16];
        V::store(tv, v);
        for (int i = 0; i < V::W; ++i) p[i * s] += tv[i];
      }
    }
  }
  std::memcpy(dx, buf + g.pad_w, g.W * sizeof(float));
}

// Average pooling's backward for one plane: t[h] = sum of dy[p] / divisor over the windows p
// holding row h (lanes past Q are zero, so they scatter nothing), then each row scattered.
template <class V>
void avg_pool_backward_plane(const Pool2dGeometry& g, const PoolScratch& sc, bool include_pad,
                             const float* counts, const float* dy, float* dx, float* buf,
                             float* t) {
  avg_pool_scatter_rows<V>(g, sc.Qv, include_pad, counts, dy, t);
  for (int64_t h = 0; h < g.H; ++h) pool_row_scatter<V>(g, sc, t + h * sc.Qv, buf, dx + h * g.W);
}

template <class V>
void avg_pool2d_backward(const Pool2dGeometry& g, bool include_pad, const float* dy, float* dx,
                         int threads) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  if (!pool_general_ok(g) || PQ == 0)
    return kernels::avg_pool2d_backward_ref(g, include_pad, dy, dx);
  if (is_avg_2x2(g)) {
    return for_pool_planes<V>(
        g, threads, 4.0 * (HW + PQ),
        [&](int64_t nc, const PoolScratch&, float*, float*, float*) {
          avg_pool2x2_backward_plane<V>(g, dy + nc * PQ, dx + nc * HW);
        },
        false);
  }
  const std::vector<float> counts = column_counts<V>(g, pool_scratch<V>(g));
  for_pool_planes<V>(g, threads, 4.0 * (HW + PQ),
                     [&](int64_t nc, const PoolScratch& sc, float* buf, float* t, float* tz) {
                       if (pool_s2_ok(g)) {  // pool_s2_impl.h
                         return avg_pool_s2_backward_plane<V>(g, sc.Qv, include_pad, counts.data(),
                                                              dy + nc * PQ, dx + nc * HW, buf, t,
                                                              tz);
                       }
                       avg_pool_backward_plane<V>(g, sc, include_pad, counts.data(), dy + nc * PQ,
                                                  dx + nc * HW, buf, t);
                     });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
