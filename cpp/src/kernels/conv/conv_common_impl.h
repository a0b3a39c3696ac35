// Small helpers shared by the convolution drivers (conv2d_impl.h, winograd_impl.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy (see conv2d_impl.h).
namespace {

// Copies plane (H, W) into a zeroed (Hp, Wp) plane at offset (top, left); rows/columns of the
// source falling outside are cropped (top/left may be negative).
inline void pad_plane(const float* src, int64_t H, int64_t W, float* dst, int64_t Hp, int64_t Wp,
                      int64_t top, int64_t left) {
  // Rows of the source inside the destination: [i0, i1).
  const int64_t i0 = std::clamp<int64_t>(top, 0, Hp), i1 = std::clamp<int64_t>(top + H, i0, Hp);
  if (i0 > 0) std::memset(dst, 0, i0 * Wp * sizeof(float));
  if (i1 < Hp) std::memset(dst + i1 * Wp, 0, (Hp - i1) * Wp * sizeof(float));
  if (left == 0 && W == Wp) {  // no horizontal padding (the lecture net): one block copy
    if (i1 > i0) std::memcpy(dst + i0 * Wp, src + (i0 - top) * W, (i1 - i0) * W * sizeof(float));
    return;
  }
  const int64_t a = std::clamp<int64_t>(left, 0, Wp), b = std::clamp<int64_t>(left + W, a, Wp);
  for (int64_t i = i0; i < i1; ++i) {
    float* d = dst + i * Wp;
    const float* s = src + (i - top) * W + (a - left);
    // Plain loops, not memset/memcpy calls: rows here are often a dozen floats, where the call
    // overhead dominates (measured: ~5% of a lecture-net training step).
    for (int64_t j = 0; j < a; ++j) d[j] = 0.0f;
    for (int64_t j = a; j < b; ++j) d[j] = s[j - a];
    for (int64_t j = b; j < Wp; ++j) d[j] = 0.0f;
  }
}

// dst[0:n] = src[0:n] in whole vectors, the last one overlapping the one before (rows of a small
// convolution are ~10 floats: a scalar tail or a memcpy call would cost as much as the copy).
template <class V>
inline void copy_floats(const float* src, int64_t n, float* dst) {
  if (n < V::W) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(dst + i, V::load(src + i));
  if (i < n) V::store(dst + n - V::W, V::load(src + n - V::W));
}

// Per-image parallelism: (threads over images, threads inside each GEMM).
inline void split_threads(int64_t N, double flops, int threads, int* outer, int* inner) {
  const int nt = threads_for(N * 1024, flops, threads);  // how many threads the work is worth
  if (N >= nt) {
    *outer = std::min<int64_t>(nt, N);
    *inner = 1;
  } else {
    *outer = 1;
    *inner = nt;
  }
}

// Sum of n floats with four vector accumulators (a serial scalar sum is bound by the add latency:
// it was 5% of a lecture-net training step, for the bias gradient). Fixed order: deterministic.
template <class V>
float sum_floats(const float* p, int64_t n) {
  typename V::R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * V::W <= n; i += 4 * V::W) {
    a0 = V::add(a0, V::load(p + i));
    a1 = V::add(a1, V::load(p + i + V::W));
    a2 = V::add(a2, V::load(p + i + 2 * V::W));
    a3 = V::add(a3, V::load(p + i + 3 * V::W));
  }
  for (; i + V::W <= n; i += V::W) a0 = V::add(a0, V::load(p + i));
  if (i < n) a1 = V::add(a1, V::load_partial(p + i, static_cast<int>(n - i)));
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// sum_floats(src, n) (the same additions in the same order: the same float) while copying src to
// dst: one read of src where a copy and a sum of the same floats are both needed.
template <class V>
float copy_sum_floats(const float* src, int64_t n, float* dst) {
  typename V::R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * V::W <= n; i += 4 * V::W) {
    const typename V::R v0 = V::load(src + i), v1 = V::load(src + i + V::W),
                        v2 = V::load(src + i + 2 * V::W), v3 = V::load(src + i + 3 * V::W);
    V::store(dst + i, v0), V::store(dst + i + V::W, v1), V::store(dst + i + 2 * V::W, v2),
        V::store(dst + i + 3 * V::W, v3);
    a0 = V::add(a0, v0), a1 = V::add(a1, v1), a2 = V::add(a2, v2), a3 = V::add(a3, v3);
  }
  for (; i + V::W <= n; i += V::W) {
    const typename V::R v = V::load(src + i);
    V::store(dst + i, v);
    a0 = V::add(a0, v);
  }
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    const typename V::R v = V::load_partial(src + i, rest);
    V::store_partial(dst + i, v, rest);
    a1 = V::add(a1, v);
  }
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// y (planes, P / 2, Q / 2) = the 2x2 max pool of full (planes, P, Q), as max_pool2d gives it
// (a NaN in a window gives NaN): the pooling step of the fused conv + pool paths whose conv
// kernel has no pooling epilogue.
inline void max_pool2x2_planes(const float* full, int64_t planes, int64_t P, int64_t Q, float* y) {
  const int64_t Pp = P / 2, Qp = Q / 2;
  const auto pick = [](float m, float v) { return v > m || v != v ? v : m; };
  for (int64_t nk = 0; nk < planes; ++nk) {
    const float* src = full + nk * P * Q;
    float* dst = y + nk * Pp * Qp;
    for (int64_t i = 0; i < Pp; ++i)
      for (int64_t j = 0; j < Qp; ++j) {
        const float* s = src + 2 * i * Q + 2 * j;
        float m = s[0];
        if (m == m) m = pick(pick(pick(m, s[1]), s[Q]), s[Q + 1]);
        dst[i * Qp + j] = m;
      }
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
