// Direct convolution for layers with few input channels (C <= 4: every suite network's first
// layer), stride 1 or 2 across, any stride down, any R x S and padding. With C*R*S = 27 taps
// the register-blocked kernel (conv_direct_blocked_impl.h: output channels in the vector lanes)
// spends as much on its epilogue and NCHW transpose as on its FMAs. Here the lanes run along an
// output row instead: a tile of KN output channels x QV vectors of columns of one output row
// lives in KN*QV accumulators (3 x 4 = 12 of AVX2's 16 registers); per tap the KN weights are
// broadcast once and each of the QV input vectors is loaded against them:
//   acc[k][v] += xph[off[t] + p*sh*Wph + q0 + v*W .. +W) * w[k0 + k][t].
// The output goes straight to NCHW with the bias and activation (no transpose). Stride 2 across
// reads column phase planes (even and odd padded columns apart), so every tap is a contiguous
// load. A row's last tile has as many vectors as its columns need, the last one stored partially.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_act_impl.h"
#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

constexpr int64_t kSmallCMaxChannels = 4;
constexpr int kSmallCKN = 3;  // output channels per tile (the packed weights' block)
constexpr int kSmallCQV = 4;  // vectors of columns per tile: 3 x 4 = 12 accumulators

// The phase-plane input of one image: (C, sw, Hp, Wph); padded column j*sw + ph is at [ph][.][j].
struct SmallCPlanes {
  int64_t Hp, Wph, plane;  // plane: one phase of one channel
};

inline SmallCPlanes small_c_planes(const Conv2dGeometry& g) {
  SmallCPlanes d;
  d.Hp = (g.P - 1) * g.stride_h + g.R;
  d.Wph = g.Q + (g.S - 1) / g.stride_w;
  d.plane = d.Hp * d.Wph;
  return d;
}

template <class V>
bool small_c_applies(const Conv2dGeometry& g) {
  return g.C <= kSmallCMaxChannels && (g.stride_w == 1 || g.stride_w == 2);
}

// Copies image xn (C, H, W) into its zero-padded phase planes xp.
inline void small_c_fill(const Conv2dGeometry& g, const SmallCPlanes& d, const float* xn,
                         float* xp) {
  const int64_t sw = g.stride_w;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ph = 0; ph < sw; ++ph)
      for (int64_t h = 0; h < d.Hp; ++h) {
        float* dst = xp + ((c * sw + ph) * d.Hp + h) * d.Wph;
        const int64_t ih = h - g.pad_top;
        const bool row_in = ih >= 0 && ih < g.H;
        const float* src = xn + (c * g.H + ih) * g.W;
        for (int64_t j = 0; j < d.Wph; ++j) {
          const int64_t iw = j * sw + ph - g.pad_left;
          dst[j] = row_in && iw >= 0 && iw < g.W ? src[iw] : 0.0f;
        }
      }
}

// One tile: output row p, columns [q0, q0 + QV*W), channels [k0, k0 + KN) of out (NCHW, one
// image). wk: the block's packed weights wk[t][kSmallCKN].
template <class V, int KN, int QV>
void small_c_tile(const Conv2dGeometry& g, const float* xrow, const int64_t* off, const float* wk,
                  const float* bias, int64_t k0, int64_t p, int64_t q0, int last, Activation act,
                  float* out) {
  using R = typename V::R;
  constexpr int W = V::W;
  R acc[KN][QV];
  for (int k = 0; k < KN; ++k)
    for (int v = 0; v < QV; ++v) acc[k][v] = V::zero();
  const int64_t taps = g.C * g.R * g.S;
  for (int64_t t = 0; t < taps; ++t, wk += kSmallCKN) {
    const float* src = xrow + off[t];
    // KN weight broadcasts + one input vector at a time: 12 + 3 + 1 = 16 registers.
    R wv[KN];
    for (int k = 0; k < KN; ++k) wv[k] = V::set1(wk[k]);
    for (int v = 0; v < QV; ++v) {
      const R xv = V::load(src + v * W);
      for (int k = 0; k < KN; ++k) acc[k][v] = V::fmadd(xv, wv[k], acc[k][v]);
    }
  }
  const int64_t PQ = g.P * g.Q;
  for (int k = 0; k < KN; ++k) {
    const R bv = V::set1(bias ? bias[k0 + k] : 0.0f);
    float* dst = out + (k0 + k) * PQ + p * g.Q + q0;
    for (int v = 0; v + 1 < QV; ++v) {
      V::store(dst + v * W, conv_act<V>(act, V::add(acc[k][v], bv)));
    }
    const auto tail = conv_act<V>(act, V::add(acc[k][QV - 1], bv));
    if (last == W) {
      V::store(dst + (QV - 1) * W, tail);
    } else {
      V::store_partial(dst + (QV - 1) * W, tail, last);
    }
  }
}

// The channel blocks of one tile of QV vectors of columns from q0 (last: lanes of the last vector
// that are outputs).
template <class V, int QV>
void small_c_tiles(const Conv2dGeometry& g, const float* xrow, const int64_t* off, const float* wp,
                   const float* b, int64_t p, int64_t q0, int last, Activation act, float* out) {
  const int64_t taps = g.C * g.R * g.S;
  for (int64_t k0 = 0; k0 < g.K; k0 += kSmallCKN) {
    const float* wk = wp + k0 * taps;  // block k0 / KN: taps * KN floats
    const int64_t kn = std::min<int64_t>(kSmallCKN, g.K - k0);
    if (kn == 3) {
      small_c_tile<V, 3, QV>(g, xrow + q0, off, wk, b, k0, p, q0, last, act, out);
    } else if (kn == 2) {
      small_c_tile<V, 2, QV>(g, xrow + q0, off, wk, b, k0, p, q0, last, act, out);
    } else {
      small_c_tile<V, 1, QV>(g, xrow + q0, off, wk, b, k0, p, q0, last, act, out);
    }
  }
}

// Output rows [p0, p1) of one image, every channel: tiles of kSmallCQV vectors of columns, the
// row's last one as many vectors as its remaining columns need (the last one partial).
template <class V>
void small_c_rows(const Conv2dGeometry& g, const SmallCPlanes& d, const float* xp,
                  const int64_t* off, const float* wp, const float* b, int64_t p0, int64_t p1,
                  Activation act, float* out) {
  constexpr int W = V::W;
  for (int64_t p = p0; p < p1; ++p) {
    const float* xrow = xp + p * g.stride_h * d.Wph;
    for (int64_t q0 = 0; q0 < g.Q; q0 += kSmallCQV * W) {
      const int64_t rem = std::min<int64_t>(g.Q - q0, kSmallCQV * W);
      const int qv = static_cast<int>((rem + W - 1) / W),
                last = static_cast<int>(rem - (qv - 1) * W);
      if (qv == 4) {
        small_c_tiles<V, 4>(g, xrow, off, wp, b, p, q0, last, act, out);
      } else if (qv == 3) {
        small_c_tiles<V, 3>(g, xrow, off, wp, b, p, q0, last, act, out);
      } else if (qv == 2) {
        small_c_tiles<V, 2>(g, xrow, off, wp, b, p, q0, last, act, out);
      } else {
        small_c_tiles<V, 1>(g, xrow, off, wp, b, p, q0, last, act, out);
      }
    }
  }
}

// y = act(conv(x, w) + b) (small_c_applies(g) must hold). Threads over images when there are
// enough of them, else over output rows of each image.
template <class V>
void conv2d_forward_small_c(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                            float* y, Activation act, int threads) {
  const SmallCPlanes d = small_c_planes(g);
  const int64_t taps = g.C * g.R * g.S, blocks = (g.K + kSmallCKN - 1) / kSmallCKN;
  const int64_t packed = blocks * kSmallCKN * taps;
  // Shared: the tap offsets (first: 64-byte aligned for int64), then the packed weights
  // wp[kb][t][KN] (channels past K zero).
  float* shared = scratch(Scratch::c, 2 * taps + packed);
  auto* off = reinterpret_cast<int64_t*>(shared);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t ph = s % g.stride_w;
        off[(c * g.R + r) * g.S + s] = (c * g.stride_w + ph) * d.plane + r * d.Wph + s / g.stride_w;
      }
  float* wp = shared + 2 * taps;
  for (int64_t kb = 0; kb < blocks; ++kb)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t l = 0; l < kSmallCKN; ++l) {
        const int64_t k = kb * kSmallCKN + l;
        wp[(kb * taps + t) * kSmallCKN + l] = k < g.K ? w[k * taps + t] : 0.0f;
      }
  const auto rows = &small_c_rows<V>;
  const int64_t PQ = g.P * g.Q, CHW = g.C * g.H * g.W;
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * taps * PQ, threads, &outer, &inner);
  inner = static_cast<int>(std::min<int64_t>(inner, g.P));
  // A partial last vector reads up to W - 1 floats past its row (zeros past the last plane).
  const int64_t xp_floats = g.C * g.stride_w * d.plane + V::W;
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* xp = scratch(Scratch::a, xp_floats);
    for (int64_t n = n0; n < n1; ++n) {
      small_c_fill(g, d, x + n * CHW, xp);
      std::fill(xp + xp_floats - V::W, xp + xp_floats, 0.0f);
      float* yn = y + n * g.K * PQ;
      if (inner <= 1) {
        rows(g, d, xp, off, wp, b, 0, g.P, act, yn);
        continue;
      }
      parallel_for(g.P, inner,
                   [&](int64_t p0, int64_t p1) { rows(g, d, xp, off, wp, b, p0, p1, act, yn); });
    }
  });
}

// y (N, K, P / 2, Q / 2) = 2x2 max pool of conv2d_forward_small_c's output (the same floats as
// the unfused forward and pool; a NaN in a window gives NaN). The conv output goes to a scratch
// buffer of the calling thread (slot d: the conv uses a and c).
template <class V>
void conv2d_forward_small_c_maxpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                                       const float* b, float* y, Activation act, int threads) {
  float* full = scratch(Scratch::d, g.N * g.K * g.P * g.Q);
  conv2d_forward_small_c<V>(g, x, w, b, full, act, threads);
  max_pool2x2_planes(full, g.N * g.K, g.P, g.Q, y);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
