// The weight gradient of a strided convolution on images of many output pixels (the 7x7 stride-2
// stem on 64x64: 1024 pixels) without im2col: as the stride-1 offset GEMM (wgrad_direct_images),
// on the phase planes of conv_strided_impl.h, where every tap (c, r, s) is one shifted row again.
// Per band of output rows dw[k, (c, r, s)] += sum_m dy_wide[k, m] * phase[off(c, r, s) + m], dy
// widened to the planes' row width with zeros in the junk columns. im2col copied the input R*S /
// (sh*sw) times (12x for the stem) before the same dot products.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_strided_impl.h"
#include "kernels/conv/conv_wgrad_band_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Images n0..n1 into my_dw (overwritten by the first band of n0, then accumulated). `band` from
// make_strided_banding, `off` from strided_band_offsets for it. Uses scratch slots a and b.
template <class V, class Cfg>
void wgrad_phase_images(const Conv2dGeometry& g, const float* x, const float* dy,
                        const Banding& band, const int64_t* off, int64_t n0, int64_t n1,
                        float* my_dw, int inner) {
  const int64_t phases = row_phases(g) * col_phases(g), planes = g.C * phases;
  // Slack: the last plane's taps read up to (S - 1) / sw floats past it, and whole vectors.
  const int64_t slack = band.Wp + V::W;
  float* xp = scratch(Scratch::a, planes * band.bplane + slack);
  float* dyw = scratch(Scratch::b, g.K * band.rows * band.Wp);
  std::memset(xp + planes * band.bplane, 0, slack * sizeof(float));
  wgrad_band_images<V, Cfg>(
      g, dy, band, off, n0, n1, xp, dyw, my_dw, inner, [&](int64_t n, int64_t p0, int64_t nr) {
        for (int64_t c = 0; c < g.C; ++c) {
          fill_phase_planes<V>(g, x + (n * g.C + c) * g.H * g.W, p0, strided_band_rows(g, nr), band,
                               xp + c * phases * band.bplane);
        }
      });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
