// The im2col forward with several images side by side in the column matrix. The GEMM computes
// whole register tiles of columns (48-64 on AVX-512), so one image of a small output wastes most
// of them: 3x3 stride 2 64->128 to 4x4 has 16 pixels, a quarter of a 64-column tile, i.e. 4x the
// useful FMAs. A stack of images fills the tiles (one rounding per stack, not per image) and
// reuses the packed weights across them. Each output column is the same dot product in the same
// order whatever its position, so an image gets the same floats in any stack (and batch).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// colT (P*Q, C*R*S): row m = p*Q + q holds output pixel m's receptive field in (c, r, s) order
// (0 outside the input), i.e. im2col transposed, for dot products along the taps.
inline void im2col_pixel_major(const Conv2dGeometry& g, const float* x, float* colT) {
  const int64_t CRS = g.C * g.R * g.S;
  for (int64_t p = 0; p < g.P; ++p)
    for (int64_t q = 0; q < g.Q; ++q) {
      float* d = colT + (p * g.Q + q) * CRS;
      const int64_t h0 = p * g.stride_h - g.pad_top, w0 = q * g.stride_w - g.pad_left;
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r, d += g.S) {
          const int64_t h = h0 + r;
          if (h < 0 || h >= g.H) {
            for (int64_t s = 0; s < g.S; ++s) d[s] = 0.0f;
            continue;
          }
          const float* xr = x + (c * g.H + h) * g.W;
          for (int64_t s = 0; s < g.S; ++s) {
            const int64_t wi = w0 + s;
            d[s] = (wi >= 0 && wi < g.W) ? xr[wi] : 0.0f;
          }
        }
    }
}

// Small outputs (im2col_pixel_major_suits): per image y (K, P*Q) = w (K, CRS) . colT (P*Q, CRS)^T
// by gemm_nt, whose blocks of pixels need no rounding up to a register tile (a 4x4 output is 16
// dot products, not a 64-column tile); then bias and activation in place.
template <class V, class Cfg>
void conv2d_forward_pixel_major(const Conv2dGeometry& g, const float* x, const float* w,
                                const float* b, float* y, Activation act, int outer, int inner) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* colT = scratch(Scratch::a, PQ * CRS);
    for (int64_t n = n0; n < n1; ++n) {
      im2col_pixel_major(g, x + n * g.C * g.H * g.W, colT);
      float* yn = y + n * g.K * PQ;
      GemmNT gg;
      gg.M = g.K, gg.N = PQ, gg.L = CRS, gg.A = w, gg.lda = CRS, gg.B = colT, gg.ldb = CRS,
      gg.C = yn, gg.ldc = PQ;
      gemm_nt<V, Cfg>(gg, inner);
      for (int64_t k = 0; k < g.K; ++k) {
        copy_rows_bias_act<V>(yn + k * PQ, PQ, 1, PQ, b ? b[k] : 0.0f, act, yn + k * PQ);
      }
    }
  });
}

// y = act(conv(x, w) + b) by im2col + GEMM on stacks of images; `outer` threads over images, each
// GEMM on `inner`. The weights are packed once for all stacks (scratch slot c).
template <class V, class Cfg>
void conv2d_forward_im2col_stacked(const Conv2dGeometry& g, const float* x, const float* w,
                                   const float* b, float* y, Activation act, int outer, int inner) {
  if (im2col_pixel_major_suits<V, Cfg>(g)) {
    return conv2d_forward_pixel_major<V, Cfg>(g, x, w, b, y, act, outer, inner);
  }
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q, G = im2col_stack_images<V, Cfg>(g);
  const float* wp =
      packed_conv_weights<Cfg>(g.K, CRS, w, scratch(Scratch::c, packed_nn_a_size<Cfg>(g.K, CRS)));
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    for (int64_t s0 = n0; s0 < n1; s0 += G) {
      const int64_t nb = std::min(G, n1 - s0), ld = nb * PQ;
      float* col = scratch(Scratch::a, CRS * ld);
      for (int64_t i = 0; i < nb; ++i) {
        im2col_any_stride<V>(g, x + (s0 + i) * g.C * g.H * g.W, col + i * PQ, ld);
      }
      // One image: the GEMM writes y itself and the epilogue runs in place.
      float* yt = nb == 1 ? y + s0 * g.K * PQ : scratch(Scratch::b, g.K * ld);
      GemmNN gg;
      gg.M = g.K, gg.N = ld, gg.J = CRS, gg.A = wp, gg.a_packed = true, gg.B = col, gg.ldb = ld,
      gg.C = yt, gg.ldc = ld;
      gemm_nn<V, Cfg>(gg, inner);
      for (int64_t i = 0; i < nb; ++i)
        for (int64_t k = 0; k < g.K; ++k) {
          copy_rows_bias_act<V>(yt + k * ld + i * PQ, PQ, 1, PQ, b ? b[k] : 0.0f, act,
                                y + ((s0 + i) * g.K + k) * PQ);
        }
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
