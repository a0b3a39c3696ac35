// Pooling kernels, compiled once per ISA (the loops are written so that the compiler vectorises
// them with the translation unit's instruction set: pooling is bound by memory bandwidth, not by
// arithmetic, so plain branch-free loops are enough to run at memory speed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/parallel.h"
#include "kernels/pool2d.h"
#include "kernels/pool2d_ref.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// Bytes a thread must move before a second thread pays (~5-10 us at memory speed).
constexpr double kMinBytesPerThread = 256.0 * 1024;

inline int threads_for_bytes(int64_t tasks, double bytes, int max_threads) {
  return threads_for(tasks, bytes / kMinBytesPerThread * kMinFlopsPerThread, max_threads);
}

// One output row of a 2x2 / stride 2 max pool: y[q] = max(r0[2q], r0[2q+1], r1[2q], r1[2q+1]),
// the first maximum in row-major order, NaN winning (as max_pool2d_forward_ref). `base` is the
// flat index of r0[0] within its plane; W the plane's row length.
inline void maxpool2x2_row(const float* __restrict r0, const float* __restrict r1, int64_t Q,
                           float* __restrict y, int32_t* __restrict am, int32_t base, int32_t W) {
  if (!am) {
    for (int64_t q = 0; q < Q; ++q) {
      float best = r0[2 * q];
      const float v[3] = {r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]};
      for (float x : v) best = (x > best || (x != x && best == best)) ? x : best;
      y[q] = best;
    }
    return;
  }
  for (int64_t q = 0; q < Q; ++q) {
    float best = r0[2 * q];
    int32_t idx = base + 2 * static_cast<int32_t>(q);
    const float v[3] = {r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]};
    const int32_t d[3] = {1, W, W + 1};
    for (int k = 0; k < 3; ++k) {
      const bool take = v[k] > best || (v[k] != v[k] && best == best);
      best = take ? v[k] : best;
      idx = take ? base + 2 * static_cast<int32_t>(q) + d[k] : idx;
    }
    y[q] = best;
    am[q] = idx;
  }
}

inline bool is_2x2_stride2(const Pool2dGeometry& g) {
  return g.kernel_h == 2 && g.kernel_w == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
         g.pad_w == 0;
}

// Planes [nc0, nc1) of the reference kernel (its loops are per plane).
inline Pool2dGeometry planes(const Pool2dGeometry& g, int64_t nc0, int64_t nc1) {
  Pool2dGeometry s = g;
  s.N = nc1 - nc0;
  s.C = 1;
  return s;
}

template <class V>
void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax,
                        int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W, PQ = g.P * g.Q;
  if (NC == 0 || PQ == 0) return;
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + PQ), threads);
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
        maxpool2x2_row(r0, r0 + g.W, g.Q, y + nc * PQ + p * g.Q,
                       argmax ? argmax + nc * PQ + p * g.Q : nullptr,
                       static_cast<int32_t>(2 * p * g.W), static_cast<int32_t>(g.W));
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
      max_pool2d_backward_ref(planes(g, b, e), dy + b * PQ, argmax + b * PQ, dx + b * HW);
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

}  // namespace
}  // namespace pocketcnn::kernels::impl
