// The vertical pass of average pooling's backward, shared by the general separable kernels
// (pool_general_impl.h) and the column-stride-2 ones (pool_s2_impl.h): each dy row, divided by
// its windows' divisors, added to the rows of t (H rows of Qv floats) its window covers.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// Rows [h0, h1) of window row p, clipped to the input.
inline void window_rows(const Pool2dGeometry& g, int64_t p, int64_t* h0, int64_t* h1) {
  const int64_t hs = p * g.stride_h - g.pad_h;
  *h0 = std::max<int64_t>(hs, 0);
  *h1 = std::min(hs + g.kernel_h, g.H);
}

// t (H x Qv, zeroed here) = the vertical scatter of dy / divisor; counts holds each q's in-input
// columns (used without count_include_pad, times the window's in-input rows).
template <class V>
void avg_pool_scatter_rows(const Pool2dGeometry& g, int64_t Qv, bool include_pad,
                           const float* counts, const float* dy, float* t) {
  using R = typename V::R;
  std::fill(t, t + g.H * Qv, 0.0f);
  const R area = V::set1(
      static_cast<float>(static_cast<double>(g.kernel_h) * static_cast<double>(g.kernel_w)));
  for (int64_t p = 0; p < g.P; ++p) {
    int64_t h0, h1;
    window_rows(g, p, &h0, &h1);
    const R nrows = V::set1(static_cast<float>(h1 - h0));
    for (int64_t q0 = 0; q0 < g.Q; q0 += V::W) {
      const int n = static_cast<int>(std::min<int64_t>(V::W, g.Q - q0));
      const R d = n == V::W ? V::load(dy + p * g.Q + q0) : V::load_partial(dy + p * g.Q + q0, n);
      const R share = V::div(d, include_pad ? area : V::mul(nrows, V::load(counts + q0)));
      for (int64_t h = h0; h < h1; ++h) {
        V::store(t + h * Qv + q0, V::add(V::load(t + h * Qv + q0), share));
      }
    }
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
