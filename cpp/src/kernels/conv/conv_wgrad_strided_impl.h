// The weight gradient of a strided convolution on images of many output pixels (the 7x7 stride-2
// stem on 64x64: 1024 pixels) without im2col: as the stride-1 offset GEMM (wgrad_direct_images),
// on the phase planes of conv_strided_impl.h, where every tap (c, r, s) is one shifted row again.
// Per band of output rows dw[k, (c, r, s)] += sum_m dy_wide[k, m] * phase[off(c, r, s) + m], dy
// widened to the planes' row width with zeros in the junk columns. im2col copied the input R*S /
// (sh*sw) times (12x for the stem) before the same dot products.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Images n0..n1 into my_dw (overwritten by the first band of n0, then accumulated). `band` from
// make_strided_banding, `off` from strided_band_offsets for it. Uses scratch slots a and b.
template <class V, class Cfg>
void wgrad_phase_images(const Conv2dGeometry& g, const float* x, const float* dy,
                        const Banding& band, const int64_t* off, int64_t n0, int64_t n1,
                        float* my_dw, int inner) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q, Wp = band.Wp;
  const int64_t planes = g.C * row_phases(g) * col_phases(g);
  // Slack: the last plane's taps read up to (S - 1) / sw floats past it, and whole vectors.
  const int64_t slack = Wp + V::W;
  float* xp = scratch(Scratch::a, planes * band.bplane + slack);
  float* dyw = scratch(Scratch::b, g.K * band.rows * Wp);
  std::memset(xp + planes * band.bplane, 0, slack * sizeof(float));
  for (int64_t n = n0; n < n1; ++n) {
    for (int64_t p0 = 0; p0 < g.P; p0 += band.rows) {
      const int64_t nr = std::min(band.rows, g.P - p0), M = nr * Wp;
      for (int64_t c = 0; c < g.C; ++c) {
        fill_phase_planes<V>(g, x + (n * g.C + c) * g.H * g.W, p0, strided_band_rows(g, nr), band,
                             xp + c * row_phases(g) * col_phases(g) * band.bplane);
      }
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
