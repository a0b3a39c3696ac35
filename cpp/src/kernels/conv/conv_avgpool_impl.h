// Convolution + bias + activation + 2x2 / stride 2 average pooling in one call (LeNet's conv +
// tanh + average pool): on the stride-1 direct path the pooling is the GEMM's epilogue
// (correlate_image with BandPool::avg2x2, whose avgpool_rows_bias_act is in conv_direct_impl.h),
// so the conv's output never goes to memory and a last odd row the pool drops is never computed.
// Unlike max pooling, the activation comes first (tanh / sigmoid do not commute with a mean), so
// any fusable activation is allowed. The floats are those of the two steps (conv2d_forward with
// the activation, then avg_pool2d_forward): per float act(conv + bias), then per window
// ((a + b) + c) + d, divided by 4 (avg_pool2x2_plane's order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_forward_impl.h"
#include "kernels/pool/pool_general_impl.h"
#include "pocketcnn/memory.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// The 2x2 / stride 2 average pool of a conv output (P x Q -> P / 2 x Q / 2).
inline Pool2dGeometry avgpool2x2_of(const Conv2dGeometry& g) {
  Pool2dGeometry pg{};
  pg.N = g.N, pg.C = g.K, pg.H = g.P, pg.W = g.Q, pg.P = g.P / 2, pg.Q = g.Q / 2;
  pg.kernel_h = pg.kernel_w = pg.stride_h = pg.stride_w = 2;
  return pg;
}

// Layers the direct path does not take (Winograd, strides > 1, conv_small_c_impl.h's): the conv
// into a buffer from the tensor memory cache, then the pool (the two steps as they are, so the same
// floats).
template <class V, class Cfg>
void conv2d_then_avgpool2x2(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                            float* y, Activation act, int threads) {
  const CachedFloats conv(g.N * g.K * g.P * g.Q);
  float* c = conv.data;
  conv2d_forward_algo<V, Cfg>(g, x, w, b, c, act, threads, ConvAlgo::automatic);
  avg_pool2d_forward<V>(avgpool2x2_of(g), true, c, y, threads);
}

// y (N, K, P / 2, Q / 2) = avg_pool2d(act(conv(x, w) + b), 2), any stride.
template <class V, class Cfg>
void conv2d_forward_avgpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act, int threads) {
  const int64_t Pp = g.P / 2, Qp = g.Q / 2;
  if (g.N == 0 || g.K == 0 || Pp == 0 || Qp == 0) return;
  const bool direct =
      g.stride_h == 1 && g.stride_w == 1 && !use_winograd4<V>(ConvAlgo::automatic, g, false) &&
      !use_winograd(ConvAlgo::automatic, g) && !use_small_c<V>(ConvAlgo::automatic, g) &&
      !use_direct_blocked<V>(ConvAlgo::automatic, g);
  if (!direct) return conv2d_then_avgpool2x2<V, Cfg>(g, x, w, b, y, act, threads);
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q, threads, &outer, &inner);
  const Banding band = make_banding(g.C, g.R, g.S, 2 * Pp, g.Q, kBandInputBytes, true);
  const CorrelationWeights cw = pack_correlation_weights<Cfg>(g, band, w);
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      correlate_image<V, Cfg>(x + n * g.C * g.H * g.W, g.C, g.H, g.W, g.pad_top, g.pad_left, cw.wp,
                              g.K, g.R, g.S, 2 * Pp, g.Q, band, cw.off, b, act,
                              y + n * g.K * Pp * Qp, inner, BandPool::avg2x2);
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
