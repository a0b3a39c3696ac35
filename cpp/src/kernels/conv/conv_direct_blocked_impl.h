// Register-blocked direct convolution (any R x S, stride 1 or 2 across, any stride down, any
// padding) for layers with enough channels (C, K >= 16): no im2col, no phase planes, no GEMM
// tile rounding. An output tile of NR rows x NQ columns x KV vectors of output channels lives in
// NR*NQ*KV accumulators; for each input channel and tap the KV weight vectors are loaded once and
// each of the NR*NQ input pixels is broadcast against them:
//   acc[i][j][v] += xpad[c][(p0+i)*sh + r][(q0+j)*SW + s] * wp[kb][c][r][s][v*W .. v*W+W).
// The input is one zero-padded copy per image (C, Hp, Wp); weights are packed once per layer
// K-blocked (kept by the inference plan under the frozen-weights stamp). Tiles that would run past
// the last row or column start earlier instead and overlap the one before (the shared outputs
// are computed twice with the same floats), so there is no tail kernel. The accumulators hold
// channels per pixel: each tile adds the bias, applies the activation and stores them pixel-major
// for the whole image; a pass of W x W register transposes per channel block then writes NCHW.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_act_impl.h"
#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/frozen_weights_impl.h"
#include "kernels/pointwise/activation_impl.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// A register tile: kv vectors of channels x nr output rows x nq output columns.
struct DirectTile {
  int kv, nr, nq;
};

// The tiles compiled (direct_blocked_run dispatches on them). Accumulators kv*nr*nq: 12-28 for
// 32 vector registers, 8-10 for 16 (each tile also needs kv registers for the weights and one
// for the broadcast). With 16 registers a tile of 14 accumulators spills them to the stack
// (AVX2, GCC 12 -O3): 2x7 ran the small ResNet's stride-2 layers 16->32 on 28x28 and 32->64 on
// 14x14 at 43.5 and 42.4 us per image against 2x4's 28.4 and 28.7 and 2x5's 26.9 and 33.5
// (batch 16, 1 thread, thread CPU time, min of 4 alternating rounds on the loaded Zen 3), so
// the 16-register tiles stop at 10. List order breaks cost ties (2x4 before 2x5).
// 12 accumulators that do fit 16 registers lose on allconv_s2 too (AVX2 Zen 3, batch 64, 1
// thread, thread CPU time, benchmarks/conv_shapes.cpp with each tile forced, 2 rounds, % of 100
// GFLOP/s): layers 1 / 2 / 3 ran 51-52 / 73 / 78-79% on 2x1x4, 27-40 / 49-69 / 52-72% on 3x1x4,
// 30-51 / 46-67 / 42-56% on 2x2x3 and 26-35 / 42-52 / 56-57% on 4x1x2 (1x2x4: 28-36 / 53-57 /
// 61-65%). Its inner loop (8 FMAs, 2 weight loads, 4 broadcasts, one offset load a tap) is clean
// in the disassembly, so what these layers lose is no longer in the register tile. Nor is it
// L1 capacity (all channels' planes + a block's weights are 55-57 KB on layers 2 / 3): passes
// over the taps in chunks of whole channels sized to 24 KB, partial sums kept in yb, ran no
// faster (best of 3 alternating rounds 46 / 66 / 71% against 52 / 72 / 74%).
constexpr DirectTile kDirectTiles32[] = {{2, 2, 4}, {2, 2, 7}, {2, 1, 8},  {2, 1, 14}, {1, 4, 4},
                                         {1, 4, 7}, {1, 3, 8}, {1, 2, 14}, {1, 1, 14}};
constexpr DirectTile kDirectTiles16[] = {{2, 1, 4}, {2, 1, 5}, {1, 2, 4}, {1, 1, 8}};

// Padded input geometry of one image: every tap of every output pixel lands inside.
struct DirectPlanes {
  int64_t Hp, Wp, plane;
};

inline DirectPlanes direct_planes(const Conv2dGeometry& g) {
  DirectPlanes d;
  d.Hp = (g.P - 1) * g.stride_h + g.R;
  d.Wp = (g.Q - 1) * g.stride_w + g.S;
  d.plane = d.Hp * d.Wp;
  return d;
}

// Packed weights: wp[kb][c][r][s][KB] (KB = kv * W floats; channels past K are zero).
template <class V>
int64_t direct_packed_floats(const Conv2dGeometry& g, int kv) {
  const int64_t KB = kv * V::W, blocks = (g.K + KB - 1) / KB;
  return blocks * KB * g.C * g.R * g.S;
}

template <class V>
void pack_direct_weights(const Conv2dGeometry& g, int kv, const float* w, float* wp) {
  const int64_t KB = kv * V::W, CRS = g.C * g.R * g.S, blocks = (g.K + KB - 1) / KB;
  for (int64_t kb = 0; kb < blocks; ++kb)
    for (int64_t t = 0; t < CRS; ++t)
      for (int64_t l = 0; l < KB; ++l) {
        const int64_t k = kb * KB + l;
        wp[(kb * CRS + t) * KB + l] = k < g.K ? w[k * CRS + t] : 0.0f;
      }
}

// Where an image's tiles and its transposition read and write (one thread's share).
struct DirectBuffers {
  const float* x;      // the image's padded planes (C, Hp, Wp)
  const int64_t* off;  // tap t = (c, r, s) at x + off[t]: c*plane + r*Wp + s
  float* yb;           // pixel-major tile outputs: yb[m][KB], m = p*Q + q (rows padded to W)
  // Floats between yb's output rows and columns; 0: dense, Q * KB and KB. (The strided input
  // gradient stores its phases' pixels straight to their places in dx's pixels.)
  int64_t yb_row = 0, yb_col = 0;
};

// One tile: yb[(p0 + i)*Q + q0 + j][0 .. KB) = act(bias + sum over taps t of
//   x[off[t] + (p0 + i)*sh*Wp + (q0 + j)*SW] * wk[t][0 .. KB)).
// The taps are one flat loop (C*R*S long): a pixel's address is its row pointer + off[t] + a
// compile-time displacement, so the NR*NQ broadcasts need only NR registers.
template <class V, int KV, int NR, int NQ, int SW>
void direct_tile(const Conv2dGeometry& g, const DirectPlanes& d, const DirectBuffers& buf,
                 const float* wk, const float* bias, int64_t p0, int64_t q0, Activation act) {
  using R = typename V::R;
  constexpr int W = V::W, KB = KV * W;
  R acc[NR][NQ][KV];
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < NQ; ++j)
      for (int v = 0; v < KV; ++v) acc[i][j][v] = V::zero();
  const float* rows[NR];
  for (int i = 0; i < NR; ++i) rows[i] = buf.x + (p0 + i) * g.stride_h * d.Wp + q0 * SW;
  const int64_t taps = g.C * g.R * g.S;
  for (int64_t t = 0; t < taps; ++t, wk += KB) {
    const int64_t o = buf.off[t];
    R wv[KV];
    for (int v = 0; v < KV; ++v) wv[v] = V::load(wk + v * W);
    for (int i = 0; i < NR; ++i)
      for (int j = 0; j < NQ; ++j) {
        const R xv = V::set1(rows[i][o + j * SW]);
        for (int v = 0; v < KV; ++v) acc[i][j][v] = V::fmadd(xv, wv[v], acc[i][j][v]);
      }
  }
  const int64_t yr = buf.yb_row ? buf.yb_row : g.Q * KB, yc = buf.yb_col ? buf.yb_col : KB;
  for (int i = 0; i < NR; ++i)
    for (int j = 0; j < NQ; ++j) {
      float* dst = buf.yb + (p0 + i) * yr + (q0 + j) * yc;
      for (int v = 0; v < KV; ++v) {
        V::store(dst + v * W, conv_act<V>(act, V::add(acc[i][j][v], V::load(bias + v * W))));
      }
    }
}

// out[k][m] = yb[m][k] for k < kvalid, m < PQ (out rows ld apart): W x W blocks transposed in
// registers. yb has rows up to PQ rounded up to W (their contents unused).
template <class V>
void direct_transpose_out(const float* yb, int64_t KB, int64_t kvalid, int64_t PQ, int64_t ld,
                          float* out) {
  constexpr int W = V::W;
  typename V::R r[W];
  for (int64_t m0 = 0; m0 < PQ; m0 += W) {
    const int n = static_cast<int>(std::min<int64_t>(W, PQ - m0));
    for (int64_t k0 = 0; k0 < kvalid; k0 += W) {
      for (int i = 0; i < W; ++i) r[i] = V::load(yb + (m0 + i) * KB + k0);
      V::transpose(r);
      const int64_t kn = std::min<int64_t>(W, kvalid - k0);
      for (int64_t l = 0; l < kn; ++l) {
        float* o = out + (k0 + l) * ld + m0;
        if (n == W) {
          V::store(o, r[l]);
        } else {
          V::store_partial(o, r[l], n);
        }
      }
    }
  }
}

// Every tile of output-channel blocks [kb0, kb1) of one image, each block then transposed into
// NCHW (out null: left in buf.yb). Row and column tiles that would pass the edge start earlier
// (overlap; needs P >= NR and Q >= NQ).
template <class V, int KV, int NR, int NQ, int SW>
void direct_image_blocks(const Conv2dGeometry& g, const DirectPlanes& d, const DirectBuffers& buf,
                         const float* wp, const float* bias, int64_t kb0, int64_t kb1,
                         Activation act, float* out) {
  constexpr int64_t KB = KV * V::W;
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    const float* wk = wp + kb * CRS * KB;
    for (int64_t p = 0; p < g.P; p += NR) {
      const int64_t p0 = std::min<int64_t>(p, g.P - NR);
      for (int64_t q = 0; q < g.Q; q += NQ) {
        const int64_t q0 = std::min<int64_t>(q, g.Q - NQ);
        direct_tile<V, KV, NR, NQ, SW>(g, d, buf, wk, bias + kb * KB, p0, q0, act);
      }
    }
    const int64_t kvalid = std::min<int64_t>(KB, g.K - kb * KB);
    if (out) direct_transpose_out<V>(buf.yb, KB, kvalid, PQ, PQ, out + kb * KB * PQ);
  }
}

// Estimated cost of a tile on g, in units of one fully busy FMA issue (lower is better): the
// computed outputs (channel blocks rounded up, overlapping tiles counted twice) divided by how
// well the accumulators hide the FMA latency (12 independent chains fill two pipes).
template <class V>
double direct_tile_cost(const Conv2dGeometry& g, const DirectTile& t) {
  const int64_t KB = t.kv * V::W;
  if (g.P < t.nr || g.Q < t.nq) return 1e300;
  const double k = static_cast<double>((g.K + KB - 1) / KB * KB);
  const double rows = static_cast<double>((g.P + t.nr - 1) / t.nr * t.nr);
  const double cols = static_cast<double>((g.Q + t.nq - 1) / t.nq * t.nq);
  const int acc = t.kv * t.nr * t.nq;
  // Loads per FMA step: kv weight vectors + nr*nq broadcasts for acc FMAs (2 loads a cycle).
  const double fma_cycles = acc / 2.0, load_cycles = (t.kv + t.nr * t.nq) / 2.0;
  const double busy = std::min(1.0, acc / 12.0) * fma_cycles / std::max(fma_cycles, load_cycles);
  return k * rows * cols / busy;
}

// The best compiled tile for g on this ISA's registers (with `kv` vectors of channels, if not 0);
// kv == 0: none fits (output too small).
template <class V>
DirectTile direct_choose_tile(const Conv2dGeometry& g, int kv = 0) {
  DirectTile best{0, 0, 0};
  double best_cost = 1e299;
  const auto consider = [&](const DirectTile& t) {
    if (kv != 0 && t.kv != kv) return;
    const double c = direct_tile_cost<V>(g, t);
    if (c < best_cost) best_cost = c, best = t;
  };
  if (V::W >= 16) {
    for (const DirectTile& t : kDirectTiles32) consider(t);
  } else {
    for (const DirectTile& t : kDirectTiles16) consider(t);
  }
  return best;
}

// Where the blocked direct kernel applies: stride 1 or 2 across (a compile-time broadcast
// distance), and an output at least one tile wide and tall.
template <class V>
bool direct_blocked_applies(const Conv2dGeometry& g) {
  return (g.stride_w == 1 || g.stride_w == 2) && direct_choose_tile<V>(g).kv != 0;
}

template <class V, int KV, int NR, int NQ>
auto direct_blocks_fn(int64_t sw) {
  return sw == 1 ? &direct_image_blocks<V, KV, NR, NQ, 1> : &direct_image_blocks<V, KV, NR, NQ, 2>;
}

template <class V>
using DirectBlocksFn = void (*)(const Conv2dGeometry&, const DirectPlanes&, const DirectBuffers&,
                                const float*, const float*, int64_t, int64_t, Activation, float*);

// The compiled function for tile t and stride sw (t from direct_choose_tile).
template <class V>
DirectBlocksFn<V> direct_blocks_for(const DirectTile& t, int64_t sw) {
#define POCKETCNN_DIRECT_TILE(KV, NR, NQ) \
  if (t.kv == KV && t.nr == NR && t.nq == NQ) return direct_blocks_fn<V, KV, NR, NQ>(sw);
  if constexpr (V::W >= 16) {
    POCKETCNN_DIRECT_TILE(2, 2, 4)
    POCKETCNN_DIRECT_TILE(2, 2, 7)
    POCKETCNN_DIRECT_TILE(2, 1, 8)
    POCKETCNN_DIRECT_TILE(2, 1, 14)
    POCKETCNN_DIRECT_TILE(1, 4, 4)
    POCKETCNN_DIRECT_TILE(1, 4, 7)
    POCKETCNN_DIRECT_TILE(1, 3, 8)
    POCKETCNN_DIRECT_TILE(1, 2, 14)
    POCKETCNN_DIRECT_TILE(1, 1, 14)
  } else {
    POCKETCNN_DIRECT_TILE(2, 1, 4)
    POCKETCNN_DIRECT_TILE(2, 1, 5)
    POCKETCNN_DIRECT_TILE(1, 2, 4)
    POCKETCNN_DIRECT_TILE(1, 1, 8)
  }
#undef POCKETCNN_DIRECT_TILE
  return nullptr;
}

enum DirectPackKind { kFrozenDirectBase = 16 };  // + kv: distinct from frozen_weights_impl.h's

// y = act(conv(x, w) + b) on the blocked direct kernel (direct_blocked_applies(g) must hold).
// Threads over images when there are enough of them, else over channel blocks of each image.
template <class V>
void conv2d_forward_direct_blocked(const Conv2dGeometry& g, const float* x, const float* w,
                                   const float* b, float* y, Activation act, int threads) {
  const DirectTile t = direct_choose_tile<V>(g);
  const DirectBlocksFn<V> run = direct_blocks_for<V>(t, g.stride_w);
  const DirectPlanes d = direct_planes(g);
  const int64_t KB = t.kv * V::W, blocks = (g.K + KB - 1) / KB;
  const int64_t packed = direct_packed_floats<V>(g, t.kv), CRS = g.C * g.R * g.S;
  // Shared by every thread: the tap offsets (first: 64-byte aligned for int64), the weights when
  // not kept, the bias padded to whole blocks.
  float* shared = scratch(Scratch::c, 2 * CRS + packed + blocks * KB);
  auto* off = reinterpret_cast<int64_t*>(shared);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) off[(c * g.R + r) * g.S + s] = c * d.plane + r * d.Wp + s;
  const float* wp = frozen_pack(kFrozenDirectBase + t.kv, packed,
                                [&](float* dst) { pack_direct_weights<V>(g, t.kv, w, dst); });
  if (!wp) {
    pack_direct_weights<V>(g, t.kv, w, shared + 2 * CRS);
    wp = shared + 2 * CRS;
  }
  float* bias = shared + 2 * CRS + packed;
  for (int64_t k = 0; k < blocks * KB; ++k) bias[k] = b && k < g.K ? b[k] : 0.0f;
  const int64_t PQ = g.P * g.Q, CHW = g.C * g.H * g.W;
  const int64_t yb_floats = (PQ + V::W - 1) / V::W * V::W * KB;
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
  inner = static_cast<int>(std::min<int64_t>(inner, blocks));
  const auto pad_image = [&](const float* xn, float* xp) {
    for (int64_t c = 0; c < g.C; ++c) {
      pad_plane(xn + c * g.H * g.W, g.H, g.W, xp + c * d.plane, d.Hp, d.Wp, g.pad_top, g.pad_left);
    }
  };
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* xp = scratch(Scratch::a, g.C * d.plane + V::W);
    for (int64_t n = n0; n < n1; ++n) {
      pad_image(x + n * CHW, xp);
      float* yn = y + n * g.K * PQ;
      if (inner <= 1) {
        const DirectBuffers buf{xp, off, scratch(Scratch::b, yb_floats)};
        run(g, d, buf, wp, bias, 0, blocks, act, yn);
        continue;
      }
      parallel_for(blocks, inner, [&](int64_t kb0, int64_t kb1) {
        const DirectBuffers buf{xp, off, scratch(Scratch::b, yb_floats)};
        run(g, d, buf, wp, bias, kb0, kb1, act, yn);
      });
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
