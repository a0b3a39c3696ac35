// The forward entry points (plain and fused with 2x2 max pooling): the algorithm choice
// (conv_algo_impl.h) applied to the direct path (conv_direct_impl.h) or Winograd.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_algo_impl.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_pointwise_impl.h"
#include "kernels/conv/conv_stacked_impl.h"
#include "kernels/conv/conv_strided_impl.h"
#include "pocketcnn/memory.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// floats from the tensor memory cache for the lifetime of the object: the conv output of a fused
// conv + pool whose conv kernel has no pooling epilogue (large: too big for a scratch slot).
struct CachedFloats {
  explicit CachedFloats(int64_t n)
      : bytes(static_cast<size_t>(n) * sizeof(float)),
        data(static_cast<float*>(cached_alloc(bytes))) {}
  ~CachedFloats() { cached_free(data, bytes); }
  CachedFloats(const CachedFloats&) = delete;
  CachedFloats& operator=(const CachedFloats&) = delete;
  size_t bytes;
  float* data;
};

// Winograd F(2x2)'s transforms put a tile row's tiles in the vector lanes, and its GEMMs' columns
// are the tiles of a few images: on an output at most 16 wide (8 tiles a row) 16 lanes run half
// idle. There the inference forward (nothing saved, so no backward reads its layout) takes the
// ISA's narrow vectors: on AVX-512 8-lane ymm with AVX-512's 32 registers, Cfg's blocks and packed
// weights. Zen 4, 1 thread, batch 1, thread CPU time (benchmarks/first_layers.cpp): the small
// ResNet's 64->64 on 7x7 59 -> 35 us and 32->32 on 14x14 41 -> 29 us with AVX2's kernels.
template <class V>
bool winograd_narrow_suits(const Conv2dGeometry& g) {
  return !std::is_same_v<typename V::Narrow, V> && g.Q <= 2 * V::Narrow::W;
}

template <class V, class Cfg>
void winograd_correlate_inference(const Conv2dGeometry& g, const float* x, const float* w,
                                  const float* b, float* y, Activation act, bool pool2x2,
                                  int threads) {
  if (winograd_narrow_suits<V>(g)) {
    winograd_correlate<typename V::Narrow, Cfg>(g, x, w, b, y, act, pool2x2, threads);
  } else {
    winograd_correlate<V, Cfg>(g, x, w, b, y, act, pool2x2, threads);
  }
}

// Floats of what a training forward can keep for the backward: Winograd's transformed input (0
// for other algorithms, and for empty layers).
template <class V, class Cfg>
int64_t conv2d_saved_floats(const Conv2dGeometry& g) {
  if (!use_winograd(ConvAlgo::automatic, g) || g.N == 0 || g.C == 0 || g.K == 0 || g.P * g.Q == 0) {
    return 0;
  }
  if (use_winograd4_training<V>(ConvAlgo::automatic, g)) {
    return winograd4_saved_floats<V>(g.N, g.C, g.P, g.Q);
  }
  return winograd_saved_floats<V, Cfg>(g.N, g.C, g.K, g.P, g.Q);
}

// saved (may be null; conv2d_saved_floats(g) floats): Winograd's transformed input, kept for
// conv2d_backward (which then reads neither x nor the transform of it again).
template <class V, class Cfg>
void conv2d_forward_algo(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                         float* y, Activation act, int threads, ConvAlgo algo,
                         float* saved = nullptr) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  if (g.N == 0 || g.K == 0 || PQ == 0) return;
  if (saved && use_winograd4_training<V>(algo, g)) {
    winograd4_correlate<V, Cfg>(g, x, w, b, y, act, false, threads, 0, saved);
    return;
  }
  if (use_winograd4<V>(algo, g, saved != nullptr)) {
    winograd4_correlate<V, Cfg>(g, x, w, b, y, act, false, threads);
    return;
  }
  if (algo == ConvAlgo::winograd4) algo = ConvAlgo::winograd;  // saving a batch F(4x4) can't
  if (use_winograd(algo, g)) {
    if (!saved) return winograd_correlate_inference<V, Cfg>(g, x, w, b, y, act, false, threads);
    // Saving: in the backward's groups.
    winograd_correlate<V, Cfg>(g, x, w, b, y, act, false, threads, winograd_wgrad_group_bytes(g.C),
                               saved);
    return;
  }
  if (use_small_c<V>(algo, g)) {
    conv2d_forward_small_c<V>(g, x, w, b, y, act, threads);
    return;
  }
  if (algo == ConvAlgo::small_c) algo = ConvAlgo::automatic;  // does not apply
  if (use_direct_blocked<V>(algo, g)) {
    conv2d_forward_direct_blocked<V>(g, x, w, b, y, act, threads);
    return;
  }
  if (algo == ConvAlgo::direct_blocked) algo = ConvAlgo::automatic;  // does not apply
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
  if (algo == ConvAlgo::automatic && pointwise_applies(g)) {  // 1x1 without padding: one GEMM
    conv2d_forward_pointwise<V, Cfg>(g, x, w, b, y, act, outer, inner);
    return;
  }
  if (g.stride_h == 1 && g.stride_w == 1) {
    const Banding band = make_banding(g.C, g.R, g.S, g.P, g.Q);
    const CorrelationWeights cw = pack_correlation_weights<Cfg>(g, band, w);
    const int64_t* off = cw.off;
    const float* wp = cw.wp;
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        correlate_image<V, Cfg>(x + n * g.C * g.H * g.W, g.C, g.H, g.W, g.pad_top, g.pad_left, wp,
                                g.K, g.R, g.S, g.P, g.Q, band, off, b, act, y + n * g.K * PQ,
                                inner);
      }
    });
    return;
  }
  const Banding band = make_strided_banding(g);
  if (algo == ConvAlgo::direct ||
      (algo == ConvAlgo::automatic && strided_phase_planes_suit<V, Cfg>(g, band))) {
    float* shared = scratch(Scratch::c, 2 * CRS + packed_nn_a_size<Cfg>(g.K, CRS));
    auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
    strided_band_offsets(g, band, off);
    const float* wp = packed_conv_weights<Cfg>(g.K, CRS, w, shared + 2 * CRS);
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        correlate_image_strided<V, Cfg>(g, x + n * g.C * g.H * g.W, wp, band, off, b, act,
                                        y + n * g.K * PQ, inner);
      }
    });
    return;
  }
  conv2d_forward_im2col_stacked<V, Cfg>(g, x, w, b, y, act, outer, inner);
}

// y (N, K, P / 2, Q / 2) = 2x2 max pool of act(conv(x, w) + b), stride 1 only: the conv's output
// never goes to memory (the pooling is the GEMM's epilogue), and an odd last row/column that the
// pool would drop is not computed.
template <class V, class Cfg>
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                    float* y, Activation act, int threads, float* saved = nullptr) {
  conv2d_forward_algo<V, Cfg>(g, x, w, b, y, act, threads, ConvAlgo::automatic, saved);
}

// y (N, K, P / 2, Q / 2) = 2x2 max pool of conv2d_forward_direct_blocked's output (its floats,
// then the pool as max_pool2d's: a NaN in a window gives NaN), through a buffer from the tensor
// memory cache (the blocked kernel has no pooling epilogue).
template <class V>
void conv2d_forward_direct_blocked_maxpool2x2(const Conv2dGeometry& g, const float* x,
                                              const float* w, const float* b, float* y,
                                              Activation act, int threads) {
  const CachedFloats conv(g.N * g.K * g.P * g.Q);
  float* full = conv.data;
  conv2d_forward_direct_blocked<V>(g, x, w, b, full, act, threads);
  max_pool2x2_planes(full, g.N * g.K, g.P, g.Q, y);
}

// With Winograd the pooling windows are the output tiles: only the P / 2 x Q / 2 tiles the pool
// keeps are computed. The same algorithm as conv2d_forward picks for g: the same floats.
template <class V, class Cfg>
void conv2d_forward_maxpool2x2_algo(const Conv2dGeometry& g, const float* x, const float* w,
                                    const float* b, float* y, Activation act, int threads,
                                    ConvAlgo algo) {
  const int64_t CRS = g.C * g.R * g.S, Pp = g.P / 2, Qp = g.Q / 2;
  if (g.N == 0 || g.K == 0 || Pp == 0 || Qp == 0) return;
  if (use_winograd4<V>(algo, g, false)) {
    winograd4_correlate<V, Cfg>(g, x, w, b, y, act, true, threads);
    return;
  }
  if (use_winograd(algo, g)) {
    winograd_correlate_inference<V, Cfg>(g, x, w, b, y, act, true, threads);
    return;
  }
  if (use_small_c<V>(algo, g)) {  // the plain forward's floats, then the pool
    conv2d_forward_small_c_maxpool2x2<V>(g, x, w, b, y, act, threads);
    return;
  }
  if (use_direct_blocked<V>(algo, g)) {  // the plain forward's floats, then the pool
    conv2d_forward_direct_blocked_maxpool2x2<V>(g, x, w, b, y, act, threads);
    return;
  }
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * g.P * g.Q, threads, &outer, &inner);
  const Banding band = make_banding(g.C, g.R, g.S, 2 * Pp, g.Q, kBandInputBytes, true);
  const CorrelationWeights cw = pack_correlation_weights<Cfg>(g, band, w);
  const int64_t* off = cw.off;
  const float* wp = cw.wp;
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      correlate_image<V, Cfg>(x + n * g.C * g.H * g.W, g.C, g.H, g.W, g.pad_top, g.pad_left, wp,
                              g.K, g.R, g.S, 2 * Pp, g.Q, band, off, b, act, y + n * g.K * Pp * Qp,
                              inner, BandPool::max2x2);
    }
  });
}

template <class V, class Cfg>
void conv2d_forward_maxpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act, int threads) {
  conv2d_forward_maxpool2x2_algo<V, Cfg>(g, x, w, b, y, act, threads, ConvAlgo::automatic);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
