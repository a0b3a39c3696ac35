// The banded offset GEMM shared by the weight gradients over wide images (stride 1 on padded
// planes, strided on phase planes): per band of output rows, dy widened to the planes' row width
// Wp with zeros in the junk columns (so the junk outputs add nothing), then one offset GEMM
// dw[k, j] (+)= sum_m dy_wide[k, m] * xp[off[j] + m] over the band's rows * Wp pixels.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/gemm/gemm_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Images n0..n1 into my_dw (overwritten by the first band of n0, then accumulated).
// fill_input(n, p0, nr) writes the input planes of image n's output rows p0..p0+nr into xp, the
// layout `off` addresses; dyw holds K * band.rows * Wp floats.
template <class V, class Cfg, class FillInput>
void wgrad_band_images(const Conv2dGeometry& g, const float* dy, const Banding& band,
                       const int64_t* off, int64_t n0, int64_t n1, const float* xp, float* dyw,
                       float* my_dw, int inner, FillInput fill_input) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q, Wp = band.Wp;
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t p0 = 0; p0 < g.P; p0 += band.rows) {
      const int64_t nr = std::min(band.rows, g.P - p0), M = nr * Wp;
      fill_input(n, p0, nr);
      for (int64_t k = 0; k < g.K; ++k) {
        pad_plane(dy + (n * g.K + k) * PQ + p0 * g.Q, nr, g.Q, dyw + k * M, nr, Wp, 0, 0);
      }
      GemmNT gg;
      gg.M = g.K, gg.N = CRS, gg.L = M, gg.A = dyw, gg.lda = M, gg.B = xp, gg.boff = off,
      gg.C = my_dw, gg.ldc = CRS, gg.accumulate = n > n0 || p0 > 0;
      gemm_nt<V, Cfg>(gg, inner);
    }
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
