// Optimiser kernels over a vector type V, compiled once per ISA (kernels_<isa>.cpp): the
// reference loops of optim_update_ref.cpp a vector at a time (same operations in the same order;
// the ISA builds may fuse a multiply and an add, so results can differ from the reference in the
// last bit), split over threads in chunks.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/optim/optim_update.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// Chunks of 16 KiB floats per task (a whole number of vectors of every ISA).
constexpr int64_t kOptimChunk = 4096;

// fn(i, t) for the vector blocks of [0, n): t = V::W lanes, then a last block of t < V::W.
template <class V, class Fn>
inline void for_each_block(int64_t n, Fn&& fn) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) fn(i, V::W);
  if (i < n) fn(i, static_cast<int>(n - i));
}

template <class V>
inline typename V::R load_n(const float* p, int t) {
  return t == V::W ? V::load(p) : V::load_partial(p, t);
}

template <class V>
inline void store_n(float* p, const typename V::R& a, int t) {
  if (t == V::W) {
    V::store(p, a);
  } else {
    V::store_partial(p, a, t);
  }
}

// fn(begin, end) over chunks of [0, n) on as many threads as `bytes_per_float` * n bytes of
// traffic are worth (parallel.h).
template <class Fn>
void over_chunks(int64_t n, double bytes_per_float, int threads, Fn&& fn) {
  const int64_t chunks = (n + kOptimChunk - 1) / kOptimChunk;
  const int nt = threads_for_bytes(chunks, bytes_per_float * n, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    fn(c0 * kOptimChunk, std::min(n, c1 * kOptimChunk));
  });
}

template <class V>
void sgd_update(int64_t n, float* p, const float* g, float* buf, const SgdStep& s, int threads) {
  using R = typename V::R;
  const R lr = V::set1(s.lr), wd = V::set1(s.weight_decay), mu = V::set1(s.momentum),
          keep = V::set1(1.0f - s.dampening);
  const bool decay = s.weight_decay != 0.0f;
  over_chunks(n, buf ? 20.0 : 12.0, threads, [&](int64_t b, int64_t e) {
    for_each_block<V>(e - b, [&](int64_t i, int t) {
      const int64_t k = b + i;
      R pv = load_n<V>(p + k, t), d = load_n<V>(g + k, t);
      if (decay) d = V::add(d, V::mul(wd, pv));
      if (buf) {
        const R bv = s.first_step ? d : V::add(V::mul(mu, load_n<V>(buf + k, t)), V::mul(keep, d));
        store_n<V>(buf + k, bv, t);
        d = s.nesterov ? V::add(d, V::mul(mu, bv)) : bv;
      }
      store_n<V>(p + k, V::sub(pv, V::mul(lr, d)), t);
    });
  });
}

template <class V>
void adam_update(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep& s,
                 int threads) {
  using R = typename V::R;
  const R b1 = V::set1(s.beta1), b2 = V::set1(s.beta2), omb1 = V::set1(1.0f - s.beta1),
          omb2 = V::set1(1.0f - s.beta2), wd = V::set1(s.weight_decay), decay = V::set1(s.decay),
          bc2 = V::set1(s.bias_correction2_sqrt), eps = V::set1(s.eps), step = V::set1(s.step_size);
  const bool has_wd = s.weight_decay != 0.0f;
  // Bytes: p, m, v read and written, g read; the square root and two divisions make it as
  // costly as twice that traffic.
  over_chunks(n, 56.0, threads, [&](int64_t b, int64_t e) {
    for_each_block<V>(e - b, [&](int64_t i, int t) {
      const int64_t k = b + i;
      R pv = load_n<V>(p + k, t), d = load_n<V>(g + k, t);
      if (has_wd) {
        if (s.decoupled) {
          pv = V::mul(pv, decay);
        } else {
          d = V::add(d, V::mul(wd, pv));
        }
      }
      const R mv = V::add(V::mul(b1, load_n<V>(m + k, t)), V::mul(omb1, d));
      const R vv = V::add(V::mul(b2, load_n<V>(v + k, t)), V::mul(V::mul(omb2, d), d));
      const R denom = V::add(V::div(V::sqrt(vv), bc2), eps);
      store_n<V>(m + k, mv, t);
      store_n<V>(v + k, vv, t);
      store_n<V>(p + k, V::sub(pv, V::mul(step, V::div(mv, denom))), t);
    });
  });
}

// Sixteen double accumulators, element i into accumulator i % 16 (the compiler vectorises them:
// a single running sum is one long chain of dependent additions, ~4 cycles per float), summed
// pairwise at the end; the tail into its own sum.
inline double chunk_sum_of_squares(int64_t n, const float* x) {
  double acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += static_cast<double>(x[i + j]) * x[i + j];
  }
  double tail = 0.0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]) * x[i];
  for (int w = 8; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

// At most kSumParts parts of whole chunks, fixed by n alone, summed in order: the same double
// whatever the thread count.
constexpr int64_t kSumParts = 64;

template <class V>
double sum_of_squares(int64_t n, const float* x, int threads) {
  if (n <= 0) return 0.0;
  const int64_t chunks = (n + kOptimChunk - 1) / kOptimChunk;
  const int64_t per_part = (chunks + kSumParts - 1) / kSumParts;
  const int64_t parts = (chunks + per_part - 1) / per_part, part_len = per_part * kOptimChunk;
  double sums[kSumParts];
  const int nt = threads_for_bytes(parts, 4.0 * n, threads);
  parallel_for(parts, nt, [&](int64_t a, int64_t b) {
    for (int64_t j = a; j < b; ++j) {
      const int64_t begin = j * part_len, end = std::min(n, begin + part_len);
      sums[j] = chunk_sum_of_squares(end - begin, x + begin);
    }
  });
  double total = 0.0;
  for (int64_t j = 0; j < parts; ++j) total += sums[j];
  return total;
}

template <class V>
void scale_in_place(int64_t n, float* x, float s, int threads) {
  const typename V::R sv = V::set1(s);
  over_chunks(n, 8.0, threads, [&](int64_t b, int64_t e) {
    for_each_block<V>(e - b, [&](int64_t i, int t) {
      store_n<V>(x + b + i, V::mul(load_n<V>(x + b + i, t), sv), t);
    });
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
