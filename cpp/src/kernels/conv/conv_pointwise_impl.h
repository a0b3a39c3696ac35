// 1x1 convolutions that read no padding (network-in-network and MobileNet pointwise layers,
// ResNet's stride-2 shortcut). On NCHW one image's output is one GEMM:
//   y_n (K, P*Q) = W (K, C) x_n (C, P*Q),
// so the forward runs gemm_nn straight on x: no padded copy of the input and no junk columns
// (the general stride-1 path, correlate_image, pads a copy of the image first). Stride > 1 first
// subsamples the input to (C, P*Q) once. The GEMM writes to a scratch buffer that stays in L2,
// and one sequential pass adds the bias and activation on the way to y: with the GEMM's stores
// going straight to y (64 rows apart, every line a miss at batch 256), the conv1x1 network's
// inference at batch 256 was 0.69-0.82x of the padded path's (compare_builds). The input
// gradient is the transposed GEMM, dx_n (C, P*Q) = W^T (C, K) dy_n (K, P*Q), copied (stride 1)
// or scattered (stride > 1, into the zeroed image) to dx the same way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// A 1x1 kernel whose every output reads input pixel (p * stride_h, q * stride_w): no padding on
// the top or left, and no output row or column that exists only through bottom/right padding.
inline bool pointwise_applies(const Conv2dGeometry& g) {
  return g.R == 1 && g.S == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.P == (g.H - 1) / g.stride_h + 1 && g.Q == (g.W - 1) / g.stride_w + 1;
}

inline bool pointwise_strided(const Conv2dGeometry& g) {
  return g.stride_h != 1 || g.stride_w != 1;
}

// xs (C, P*Q) = x[c, p * stride_h, q * stride_w] of one image.
template <class V>
void pointwise_subsample(const Conv2dGeometry& g, const float* x, float* xs) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t p = 0; p < g.P; ++p) {
      copy_strided_floats<V>(x + (c * g.H + p * g.stride_h) * g.W, g.stride_w, g.Q,
                             xs + (c * g.P + p) * g.Q);
    }
}

// y = act(conv(x, w) + b) for pointwise_applies(g); `outer` threads over images, each GEMM on
// `inner`. The weights are packed once (scratch slot c, or kept by the plan); a strided layer's
// subsampled image is in slot a, the GEMM's output in slot b.
template <class V, class Cfg>
void conv2d_forward_pointwise(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* b, float* y, Activation act, int outer, int inner) {
  const int64_t PQ = g.P * g.Q, CHW = g.C * g.H * g.W;
  const float* wp =
      packed_conv_weights<Cfg>(g.K, g.C, w, scratch(Scratch::c, packed_nn_a_size<Cfg>(g.K, g.C)));
  const bool strided = pointwise_strided(g);
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* xs = strided ? scratch(Scratch::a, g.C * PQ) : nullptr;
    float* yt = scratch(Scratch::b, g.K * PQ);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * CHW;
      if (strided) {
        pointwise_subsample<V>(g, xn, xs);
        xn = xs;
      }
      GemmNN gg;
      gg.M = g.K, gg.N = PQ, gg.J = g.C, gg.A = wp, gg.a_packed = true, gg.B = xn, gg.ldb = PQ,
      gg.C = yt, gg.ldc = PQ;
      gemm_nn<V, Cfg>(gg, inner);
      float* yn = y + n * g.K * PQ;
      for (int64_t k = 0; k < g.K; ++k) {
        copy_rows_bias_act<V>(yt + k * PQ, PQ, 1, PQ, b ? b[k] : 0.0f, act, yn + k * PQ);
      }
    }
  });
}

// dx = W^T dy for pointwise_applies(g) (overwrites dx). The GEMM writes to slot a, copied to dx
// (stride 1) or scattered into the zeroed image (the pixels no output reads get 0).
template <class V, class Cfg>
void conv2d_backward_input_pointwise(const Conv2dGeometry& g, const float* dy, const float* w,
                                     float* dx, int threads) {
  const int64_t PQ = g.P * g.Q, HW = g.H * g.W;
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * g.C * PQ, threads, &outer, &inner);
  float* wtp = scratch(Scratch::c, packed_nn_a_size<Cfg>(g.C, g.K));
  pack_nn_a<Cfg>(g.C, g.K, w, 1, g.C, wtp);  // A[c, k] = w[k, c]: W transposed
  const bool strided = pointwise_strided(g);
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* col = scratch(Scratch::a, g.C * PQ);
    for (int64_t n = n0; n < n1; ++n) {
      float* dxn = dx + n * g.C * HW;
      GemmNN gg;
      gg.M = g.C, gg.N = PQ, gg.J = g.K, gg.A = wtp, gg.a_packed = true, gg.B = dy + n * g.K * PQ,
      gg.ldb = PQ, gg.C = col, gg.ldc = PQ;
      gemm_nn<V, Cfg>(gg, inner);
      if (!strided) {
        std::memcpy(dxn, col, g.C * HW * sizeof(float));
        continue;
      }
      std::memset(dxn, 0, g.C * HW * sizeof(float));
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t p = 0; p < g.P; ++p) {
          float* d = dxn + (c * g.H + p * g.stride_h) * g.W;
          const float* s = col + (c * g.P + p) * g.Q;
          for (int64_t q = 0; q < g.Q; ++q) d[q * g.stride_w] = s[q];
        }
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
