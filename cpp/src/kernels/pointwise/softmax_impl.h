// Softmax and log-softmax, forward and backward, over x viewed as (outer, D, inner) like
// pointwise/softmax.h, vectorised for every ISA: along D when inner == 1 (the last axis: rows of D
// contiguous floats), else across `inner` (e.g. dim 1 of NCHW: the W lanes are W positions, each
// reduced over the D channels with one vector load per channel). The maximum is subtracted
// first, as in the reference (NaN and infinities give what it gives); sums are float vectors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/pointwise/vmath_impl.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// The maximum of row[0, D) by the reference's rule (NaN never wins; -inf for an all-NaN row).
template <class V>
float row_max(int64_t D, const float* row) {
  typename V::R m = V::set1(-std::numeric_limits<float>::infinity());
  int64_t d = 0;
  for (; d + V::W <= D; d += V::W) m = V::max(V::load(row + d), m);
  float s = V::hmax(m);
  for (; d < D; ++d) s = row[d] > s ? row[d] : s;
  return s;
}

// sum over d of e_d = exp(row[d] - m); with `e_out`, e_d is stored there too.
template <class V>
float row_sum_exp(int64_t D, const float* row, float m, float* e_out) {
  using R = typename V::R;
  const R mv = V::set1(m);
  R acc = V::zero();
  int64_t d = 0;
  for (; d + V::W <= D; d += V::W) {
    const R e = vexp<V>(V::sub(V::load(row + d), mv));
    if (e_out) V::store(e_out + d, e);
    acc = V::add(acc, e);
  }
  float s = V::hsum(acc);
  if (d < D) {
    const int t = static_cast<int>(D - d);
    alignas(64) float e[64];
    V::store(e, vexp<V>(V::sub(V::load_partial(row + d, t), mv)));
    for (int i = 0; i < t; ++i) s += e[i];
    if (e_out) V::store_partial(e_out + d, V::load(e), t);
  }
  return s;
}

// One row (inner == 1): y = e / s, or x - m - log s.
template <class V>
void softmax_row(bool log, int64_t D, const float* x, float* y) {
  using R = typename V::R;
  const float m = row_max<V>(D, x);
  const float s = row_sum_exp<V>(D, x, m, log ? nullptr : y);
  if (log) {
    const R mv = V::set1(m), ls = V::set1(static_cast<float>(std::log(static_cast<double>(s))));
    map_range<V>(D, x, y, [&](const R& v) { return V::sub(V::sub(v, mv), ls); });
  } else {
    const R sv = V::set1(s);
    map_range<V>(D, y, y, [&](const R& e) { return V::div(e, sv); });
  }
}

// t <= W lanes at column i of one (D, inner) slab: the same per lane, reduced over d.
template <class V>
void softmax_lanes(bool log, int64_t D, int64_t inner, const float* x, float* y, int t) {
  using R = typename V::R;
  const auto ld = [&](const float* p) { return t == V::W ? V::load(p) : V::load_partial(p, t); };
  const auto st = [&](float* p, const R& v) {
    if (t == V::W) {
      V::store(p, v);
    } else {
      V::store_partial(p, v, t);
    }
  };
  R m = V::set1(-std::numeric_limits<float>::infinity());
  for (int64_t d = 0; d < D; ++d) m = V::max(ld(x + d * inner), m);
  R s = V::zero();
  for (int64_t d = 0; d < D; ++d) {
    const R e = vexp<V>(V::sub(ld(x + d * inner), m));
    if (!log) st(y + d * inner, e);
    s = V::add(s, e);
  }
  if (log) {
    const R ls = vlog<V>(s);
    for (int64_t d = 0; d < D; ++d) st(y + d * inner, V::sub(V::sub(ld(x + d * inner), m), ls));
  } else {
    for (int64_t d = 0; d < D; ++d) st(y + d * inner, V::div(ld(y + d * inner), s));
  }
}

// Backward of one row: softmax dx = y (dy - sum dy y); log-softmax dx = dy - exp(y) sum dy.
template <class V>
void softmax_backward_row(bool log, int64_t D, const float* y, const float* dy, float* dx) {
  using R = typename V::R;
  R acc = V::zero();
  int64_t d = 0;
  for (; d + V::W <= D; d += V::W) {
    acc = log ? V::add(acc, V::load(dy + d)) : V::fmadd(V::load(dy + d), V::load(y + d), acc);
  }
  float s = V::hsum(acc);
  for (; d < D; ++d) s += log ? dy[d] : dy[d] * y[d];
  const R sv = V::set1(s);
  int64_t i = 0;
  const auto f = [&](const R& yv, const R& g) {
    return log ? V::sub(g, V::mul(vexp<V>(yv), sv)) : V::mul(yv, V::sub(g, sv));
  };
  for (; i + V::W <= D; i += V::W) V::store(dx + i, f(V::load(y + i), V::load(dy + i)));
  if (i < D) {
    const int t = static_cast<int>(D - i);
    V::store_partial(dx + i, f(V::load_partial(y + i, t), V::load_partial(dy + i, t)), t);
  }
}

template <class V>
void softmax_backward_lanes(bool log, int64_t D, int64_t inner, const float* y, const float* dy,
                            float* dx, int t) {
  using R = typename V::R;
  const auto ld = [&](const float* p) { return t == V::W ? V::load(p) : V::load_partial(p, t); };
  R s = V::zero();
  for (int64_t d = 0; d < D; ++d) {
    const R g = ld(dy + d * inner);
    s = log ? V::add(s, g) : V::fmadd(g, ld(y + d * inner), s);
  }
  for (int64_t d = 0; d < D; ++d) {
    const R yv = ld(y + d * inner), g = ld(dy + d * inner);
    const R r = log ? V::sub(g, V::mul(vexp<V>(yv), s)) : V::mul(yv, V::sub(g, s));
    if (t == V::W) {
      V::store(dx + d * inner, r);
    } else {
      V::store_partial(dx + d * inner, r, t);
    }
  }
}

// Runs row(o) for the rows (inner == 1) or lanes(o, i0, t) for the lane blocks of every slab,
// split over threads (~40 flops a float: the exp dominates).
template <class V, class Row, class Lanes>
void for_softmax_tasks(int64_t outer, int64_t D, int64_t inner, int threads, Row row, Lanes lanes) {
  if (outer == 0 || D == 0 || inner == 0) return;
  const double flops = 40.0 * static_cast<double>(outer * D * inner);
  if (inner == 1) {
    parallel_for(outer, threads_for(outer, flops, threads), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) row(o);
    });
    return;
  }
  const int64_t blocks = (inner + V::W - 1) / V::W, tasks = outer * blocks;
  parallel_for(tasks, threads_for(tasks, flops, threads), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t o = k / blocks, i0 = (k % blocks) * V::W;
      lanes(o, i0, static_cast<int>(std::min<int64_t>(V::W, inner - i0)));
    }
  });
}

template <class V>
void softmax_forward(bool log, int64_t outer, int64_t D, int64_t inner, const float* x, float* y,
                     int threads) {
  for_softmax_tasks<V>(
      outer, D, inner, threads, [&](int64_t o) { softmax_row<V>(log, D, x + o * D, y + o * D); },
      [&](int64_t o, int64_t i0, int t) {
        const int64_t off = o * D * inner + i0;
        softmax_lanes<V>(log, D, inner, x + off, y + off, t);
      });
}

template <class V>
void softmax_backward(bool log, int64_t outer, int64_t D, int64_t inner, const float* y,
                      const float* dy, float* dx, int threads) {
  for_softmax_tasks<V>(
      outer, D, inner, threads,
      [&](int64_t o) { softmax_backward_row<V>(log, D, y + o * D, dy + o * D, dx + o * D); },
      [&](int64_t o, int64_t i0, int t) {
        const int64_t off = o * D * inner + i0;
        softmax_backward_lanes<V>(log, D, inner, y + off, dy + off, dx + off, t);
      });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
