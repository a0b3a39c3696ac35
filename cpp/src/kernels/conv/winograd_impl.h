// Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016) for stride-1 3x3 correlations, written once for every ISA.
//
// Each 2x2 block of outputs (a "tile") comes from the 4x4 input patch d under it:
//   Y = A^T [ sum_c (G w_kc G^T) (.) (B^T d_c B) ] A
// so a layer is 16 GEMMs, one per position xi of the 4x4 transformed patch:
//   M_xi (K, tiles) = U_xi (K, C) * V_xi (C, tiles),  U = G w G^T,  V = B^T d B,
// 16 K C multiply-adds per tile where a direct correlation needs 36 K C (2.25x fewer FMAs), plus
// the transforms: additions only, O(C + K) per tile. The transform matrices hold 0, +-1 and
// +-1/2, so the rounding error stays within a few ulps of the direct sum's (the tests compare
// with the reference kernel at the direct path's tolerance).
//
// Work is done in groups of tile columns (winograd_group_bytes of transformed input): several
// small images side by side (the lecture net's 11x11 outputs are 36 tiles), or a band of tile
// rows of one large image. Per group and thread:
//   Vt (16, C, ld)  transformed input, tile (ty, tx) of image i at column i*Tb + (ty-ty0)*TW + tx
//   Mt (16, K, ld)  the GEMM products, read back 16 at a time by the output transform
// and per call (shared by the threads) U packed for gemm_nn, one block per xi.
// Every output depends only on its own tile's column: the same floats whatever the grouping,
// the batch size or the thread count.
//
// The backward (winograd_backward) works on the forward's tiles: dM = A dY A^T once per group,
// then the weight gradient dU_xi = dM_xi V_xi^T (NT GEMMs) and the input gradient as the forward's
// adjoint, dV_xi = U_xi^T dM_xi and B dV B^T added into overlapping patches. Training keeps the
// forward's Vt (winograd_correlate's `saved`; the groups do not depend on the thread count) so the
// backward need not transform x again.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_act_impl.h"
#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/frozen_weights.h"
#include "kernels/gemm/gemm_impl.h"
#include "kernels/pointwise/activation_impl.h"
#include "kernels/pool/pool2d_impl.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy (see conv2d_impl.h).
namespace {

// Bytes of Vt per group (Mt is K / C times that): 256 KB and at least 128 tiles. Measured on the
// lecture net's layers from 128 KB to 1 MB (and with Mt cut into L2-sized slices of output
// channels): no difference above this machine's noise; 256 KB keeps Vt in L2. The 64->64 56x56
// layer's 256 KB were bands of 56 tiles: 512 KB (112) measured 53-56 against 57-68 ms (AVX2, 1
// thread), 35 against 37-40 ms on 2.
constexpr int64_t kWinogradGroupBytes = 256 * 1024;
constexpr int64_t kWinogradMinTiles = 128;

inline int64_t winograd_group_bytes(int64_t C) {
  return std::max<int64_t>(kWinogradGroupBytes, 16 * 4 * C * kWinogradMinTiles);
}

struct WinogradGrid {
  int64_t TH = 0, TW = 0;  // tiles per image: rows, columns (tile (ty, tx) = outputs 2ty.., 2tx..)
  int64_t TWv = 0;         // TW rounded up to whole vectors
  int64_t band = 0;        // tile rows per group (TH: whole images)
  int64_t nb = 1;          // images per group (1 when banded)
  int64_t ld = 0;          // row stride of Vt and Mt: nb * band * TW plus slack
  int64_t Hp = 0, Wp = 0;  // a band's padded input plane: 2 * band + 2 rows, 2 * TWv + 2 columns
};

// Tiles covering (P, Q) outputs (P, Q odd: the last tile row/column computes one junk output,
// never stored) for C input and K output channels of N images.
template <class V, class Cfg>
WinogradGrid make_winograd_grid(int64_t N, int64_t C, int64_t K, int64_t P, int64_t Q,
                                int64_t group_bytes) {
  WinogradGrid g;
  g.TH = (P + 1) / 2, g.TW = (Q + 1) / 2;
  g.TWv = (g.TW + V::W - 1) / V::W * V::W;
  const int64_t T = g.TH * g.TW;
  const int64_t budget = std::max<int64_t>(V::W, group_bytes / (16 * 4 * std::max<int64_t>(C, 1)));
  if (T <= budget) {
    g.band = g.TH;
    g.nb = std::clamp<int64_t>(budget / std::max<int64_t>(T, 1), 1, std::max<int64_t>(N, 1));
  } else {
    g.band = std::clamp<int64_t>(budget / g.TW, 1, g.TH);
    g.nb = 1;
  }
  // Slack: the GEMM's last columns rounded up to a whole vector, then a vector of spill.
  g.ld = (g.nb * g.band * g.TW + 3 * V::W - 1) / V::W * V::W;
  // An odd number of vectors, so that rows ld apart spread over the L1 cache's sets (a row stride
  // of a multiple of 4 KB puts every row of a GEMM's column tile in the same set).
  if ((g.ld / V::W) % 2 == 0) g.ld += V::W;
  g.Hp = 2 * g.band + 2;
  g.Wp = 2 * g.TWv + 2;
  return g;
}

// The groups of a batch, the same for any thread count (so that a forward pass can save its
// transformed input group by group for the backward): whole images -- group j holds images
// [N j / G, N (j + 1) / G) for G = ceil(N / nb) groups, sizes at most nb that differ by at most
// one -- or, when images are banded, band j % nbands of image j / nbands.
struct WinogradGroup {
  int64_t n0, count, ty0, ty1;
};

inline int64_t winograd_bands(const WinogradGrid& g) {
  return (g.TH + g.band - 1) / g.band;
}

inline int64_t winograd_group_count(const WinogradGrid& g, int64_t N) {
  return g.band < g.TH ? N * winograd_bands(g) : (N + g.nb - 1) / g.nb;
}

inline WinogradGroup winograd_group(const WinogradGrid& g, int64_t N, int64_t j) {
  if (g.band < g.TH) {
    const int64_t nbands = winograd_bands(g), ty0 = (j % nbands) * g.band;
    return {j / nbands, 1, ty0, std::min(g.TH, ty0 + g.band)};
  }
  const int64_t G = winograd_group_count(g, N), n0 = N * j / G;
  return {n0, N * (j + 1) / G - n0, 0, g.TH};
}

// Floats of one group's transformed input Vt (16, C, ld).
inline int64_t winograd_vt_floats(const WinogradGrid& g, int64_t C) {
  return 16 * C * g.ld;
}

// U_xi (K, C) = (G w'[k, c] G^T)[xi] for the 16 xi, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
// written straight into gemm_nn's packed layout (pack_nn_a: row blocks of mr rows, [j][mr] inside;
// rows past K zero), one block of usz floats per xi. w' is w (K, C, 3, 3) for the forward pass,
// or with `transposed` w (C, K, 3, 3) read as w'[k, c] = w[c, k]: U^T for the input gradient.
template <class Cfg>
void winograd_weights_packed(const float* w, int64_t K, int64_t C, bool transposed, float* Up,
                             int64_t usz) {
  const int64_t mr = choose_nn_shape<Cfg>(K).mr, Kp = (K + mr - 1) / mr * mr;
  for (int xi = 0; xi < 16; ++xi)
    for (int64_t k = K; k < Kp; ++k)
      for (int64_t c = 0; c < C; ++c) Up[xi * usz + k / mr * mr * C + c * mr + k % mr] = 0.0f;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      float g[9];
      const float* src = w + (transposed ? c * K + k : k * C + c) * 9;
      for (int i = 0; i < 9; ++i) g[i] = src[i];
      float t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      float* u = Up + k / mr * mr * C + c * mr + k % mr;
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        u[(4 * i + 0) * usz] = t[i][0];
        u[(4 * i + 1) * usz] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
        u[(4 * i + 2) * usz] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
        u[(4 * i + 3) * usz] = t[i][2];
      }
    }
}

// The last few weight transforms made on this thread (per ISA: each ISA's translation unit has
// its own copy). Inference runs the same frozen weights again and again, and at batch 1 the
// transform was ~20% of a prediction; an entry is reused only when the weights are bit for bit
// the ones it was made from (a memcmp, a tenth of a transform), so weights updated in place by
// training are never missed.
// Layers up to 128 x 128 channels are cached (at most ~1.7 MB an entry): larger ones spend far
// longer in their GEMMs than in the transform, and their entries would hold tens of MB.
constexpr int64_t kWinogradCacheMaxKC = 128 * 128;

struct WinogradWeightEntry {
  int64_t K = 0, C = 0;
  bool transposed = false;
  int outputs = 2;        // F(2x2, 3x3) or F(4x4, 3x3) (winograd4_impl.h)
  std::vector<float> w;   // the weights the entry was made from
  std::vector<float> up;  // winograd_weights_packed of them
  uint64_t stamp = 0;     // the frozen-weights stamp they had (frozen_weights.h), or 0
};

// `make(w, up)` packs w's transform into up (xis * usz floats) for an entry not cached yet; the
// entry is keyed by (K, C, transposed, outputs) and the weights.
template <class Make>
const float* winograd_weights_cached_as(const float* w, int64_t K, int64_t C, bool transposed,
                                        int outputs, int64_t floats, Make&& make) {
  constexpr int kEntries = 12;  // 4 missed every call in a small ResNet's 5 Winograd layers
  thread_local WinogradWeightEntry entries[kEntries];
  thread_local int next = 0;
  const size_t n = static_cast<size_t>(K * C * 9);
  const uint64_t stamp = frozen_weights_stamp;  // names the weights: no memcmp needed
  for (WinogradWeightEntry& e : entries) {
    if (e.K == K && e.C == C && e.transposed == transposed && e.outputs == outputs &&
        ((stamp != 0 && e.stamp == stamp) ||
         (e.w.size() == n && std::memcmp(e.w.data(), w, n * sizeof(float)) == 0))) {
      return e.up.data();
    }
  }
  WinogradWeightEntry& e = entries[next];
  next = (next + 1) % kEntries;
  e.K = K, e.C = C, e.transposed = transposed, e.outputs = outputs, e.stamp = stamp;
  e.w.assign(w, w + n);
  e.up.resize(static_cast<size_t>(floats));
  make(e.up.data());
  return e.up.data();
}

template <class Cfg>
const float* winograd_weights_cached(const float* w, int64_t K, int64_t C, bool transposed,
                                     int64_t usz) {
  return winograd_weights_cached_as(w, K, C, transposed, 2, 16 * usz, [&](float* up) {
    winograd_weights_packed<Cfg>(w, K, C, transposed, up, usz);
  });
}

// Whether a layer's weight transform goes through the cache (winograd_weights_cached_as).
inline bool winograd_caches(int64_t K, int64_t C) {
  return K * C <= kWinogradCacheMaxKC;
}

// U packed for gemm_nn (winograd_weights_packed): from the cache where the layer is small enough
// for it, else packed into buf (16 usz floats the caller allocated when !winograd_caches(K, C)).
template <class Cfg>
const float* winograd_weights(const float* w, int64_t K, int64_t C, bool transposed, int64_t usz,
                              float* buf) {
  if (winograd_caches(K, C)) return winograd_weights_cached<Cfg>(w, K, C, transposed, usz);
  winograd_weights_packed<Cfg>(w, K, C, transposed, buf, usz);
  return buf;
}

// The output frame Winograd computes for a layer: with the fused 2x2 max pool its rows and
// columns rounded down to even (an odd last one, which the pool drops, is not computed).
inline Conv2dGeometry winograd_frame(Conv2dGeometry g, bool pool2x2) {
  if (pool2x2) g.P = g.P / 2 * 2, g.Q = g.Q / 2 * 2;
  return g;
}

// The GEMMs of one group, one per position xi of the transformed patch (16 for F(2x2), 36 for
// F(4x4)): C_xi (M, N) = A_xi (M, J) B_xi (J, N), A_xi packed for gemm_nn (usz floats apart),
// B_xi at B + xi J ld and C_xi at C + xi M ld (rows ld apart; `off` the row offsets of B).
// The forward's M = U V and the input gradient's dV = U^T dM.
template <class V, class Cfg>
void winograd_gemms_nn(int xis, int64_t M, int64_t J, int64_t N, const float* A, int64_t usz,
                       const float* B, int64_t ld, const int64_t* off, float* C, int inner) {
  for (int xi = 0; xi < xis; ++xi) {
    GemmNN gg;
    gg.M = M, gg.N = N, gg.J = J, gg.A = A + xi * usz, gg.a_packed = true, gg.B = B + xi * J * ld,
    gg.boff = off, gg.C = C + xi * M * ld, gg.ldc = ld;
    gemm_nn<V, Cfg>(gg, inner);
  }
}

// The weight gradient's GEMMs of one group: dU_xi (M, N) += A_xi (M, L) B_xi (N, L)^T, A_xi at
// A + xi M ld, B_xi at B + xi N ld (rows ld apart; `off` the row offsets of B), dU_xi at
// dU + xi M N.
template <class V, class Cfg>
void winograd_gemms_nt(int xis, int64_t M, int64_t N, int64_t L, const float* A, const float* B,
                       int64_t ld, const int64_t* off, float* dU, int inner) {
  for (int xi = 0; xi < xis; ++xi) {
    GemmNT gg;
    gg.M = M, gg.N = N, gg.L = L, gg.A = A + xi * M * ld, gg.lda = ld, gg.B = B + xi * N * ld,
    gg.boff = off, gg.C = dU + xi * M * N, gg.ldc = N, gg.accumulate = true;
    gemm_nt<V, Cfg>(gg, inner);
  }
}

// A backward's reduction: `used` threads each summed into their own `part` floats (parts + t
// part); their sums are added into the first in thread order, deterministic for a thread count.
inline void winograd_sum_parts(float* parts, int64_t part, int used) {
  for (int t = 1; t < used; ++t) {
    const float* p = parts + t * part;
    for (int64_t i = 0; i < part; ++i) parts[i] += p[i];
  }
}

// B^T d B for V::W tiles side by side, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: the 4x4
// patch of tile t is rows 0..3 (wp apart) of p, columns 2t .. 2t + 3. Result xi = 4i + j to
// out + xi * xs. Rows are combined first (whole vectors, no shuffles), then each combined row's
// even and odd columns are split apart (x0..x3 of every tile) and combined: the whole transform
// in registers, about one instruction per float stored.
template <class V>
inline void winograd_input_tiles(const float* p, int64_t wp, float* out, int64_t xs) {
  using R = typename V::R;
  constexpr int L = V::W;
  const float* r0 = p;
  const float* r1 = p + wp;
  const float* r2 = p + 2 * wp;
  const float* r3 = p + 3 * wp;
  const auto row = [&](int i, int o) {  // (B^T d)[i] at column offset o
    switch (i) {
      case 0:
        return V::sub(V::load(r0 + o), V::load(r2 + o));
      case 1:
        return V::add(V::load(r1 + o), V::load(r2 + o));
      case 2:
        return V::sub(V::load(r2 + o), V::load(r1 + o));
      default:
        return V::sub(V::load(r1 + o), V::load(r3 + o));
    }
  };
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    R x0, x1, x2, x3;
    V::deinterleave(row(i, 0), row(i, L), x0, x1);
    V::deinterleave(row(i, 2), row(i, 2 + L), x2, x3);
    float* o = out + 4 * i * xs;
    V::store(o, V::sub(x0, x2));
    V::store(o + xs, V::add(x1, x2));
    V::store(o + 2 * xs, V::sub(x2, x1));
    V::store(o + 3 * xs, V::sub(x1, x3));
  }
}

// Vt columns [base, base + (ty1 - ty0) * TW) of every row (xi, c) = B^T d B for the tiles of
// image `in` (C, H, W of cg) in tile rows [ty0, ty1), with
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. The input sits at (top, left) = (pad_top,
// pad_left) of the output frame (output (p, q) reads input (p - top + r, q - left + s)). Each tile
// row is stored in whole vectors: lanes past TW spill into the next tile row or image (written
// afterwards) or into the row's slack. xp: C planes of (2 * (ty1 - ty0) + 2, Wp) floats, zero
// where the input does not reach. in_end: the end of in's buffer.
// Where every tile lies inside the image (no padding; the lecture net's pooled conv 2: its 5x5
// tiles cover rows and columns 0..11 of 13), the tiles are read from `in` itself, without the
// padded copy: the spill tiles' loads then run past a row into the next one (or the next
// channel), values no stored tile uses, and must stay inside the buffer.
template <class V>
void winograd_input(const WinogradGrid& g, const Conv2dGeometry& cg, const float* in, int64_t ty0,
                    int64_t ty1, float* Vt, int64_t base, float* xp, const float* in_end) {
  constexpr int L = V::W;
  const int64_t C = cg.C, H = cg.H, W = cg.W, top = cg.pad_top, left = cg.pad_left;
  const int64_t rows = 2 * (ty1 - ty0) + 2;
  const int64_t xs = C * g.ld;  // next xi in Vt
  // The last float the loads reach: channel C - 1, the last tile row's row 3, column 2 TWv + 1.
  const bool inside = top == 0 && left == 0 && 2 * ty1 + 2 <= H && 2 * g.TW + 2 <= W &&
                      ((C - 1) * H + 2 * ty1 + 1) * W + 2 * g.TWv + 2 <= in_end - in;
  if (inside) {
    for (int64_t c = 0; c < C; ++c) {
      const float* pc = in + c * H * W;
      float* vc = Vt + c * g.ld + base;
      for (int64_t ty = ty0; ty < ty1; ++ty) {
        const float* patch = pc + 2 * ty * W;
        float* vt = vc + (ty - ty0) * g.TW;
        for (int64_t v = 0; v < g.TWv; v += L)
          winograd_input_tiles<V>(patch + 2 * v, W, vt + v, xs);
      }
    }
    return;
  }
  // Every channel is copied into its padded plane before any is transformed: the transform's
  // vector loads straddle the copy's stores, and a load that straddles stores still in flight
  // waits for them to retire (with the copy channel by channel, each load waited).
  // The padding around the copied rectangle is zeroed by the caller, once per group.
  const int64_t plane = rows * g.Wp, shift = top - 2 * ty0;
  const int64_t y0 = std::clamp<int64_t>(shift, 0, rows), y1 = std::clamp(shift + H, y0, rows);
  const int64_t a = std::clamp<int64_t>(left, 0, g.Wp), b = std::clamp(left + W, a, g.Wp);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = y0; y < y1; ++y) {
      copy_floats<V>(in + (c * H + y - shift) * W + a - left, b - a, xp + c * plane + y * g.Wp + a);
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    const float* pc = xp + c * plane;
    float* vc = Vt + c * g.ld + base;
    for (int64_t ty = ty0; ty < ty1; ++ty) {
      const float* patch = pc + 2 * (ty - ty0) * g.Wp;
      float* vt = vc + (ty - ty0) * g.TW;
      for (int64_t v = 0; v < g.TWv; v += L)
        winograd_input_tiles<V>(patch + 2 * v, g.Wp, vt + v, xs);
    }
  }
}

// The 2x2 outputs of V::W tiles side by side from their 16 products (m: the first tile's column
// in output channel k's row of xi = 0; the row of xi is xs further per xi): Y = A^T m A,
// A^T = [1 1 1 0; 0 1 -1 -1].
template <class V>
inline void winograd_output_tile(const float* m, int64_t xs, typename V::R& y00, typename V::R& y01,
                                 typename V::R& y10, typename V::R& y11) {
  using R = typename V::R;
  R s0[4], s1[4];  // rows of A^T m
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const R m0 = V::load(m + j * xs), m1 = V::load(m + (4 + j) * xs),
            m2 = V::load(m + (8 + j) * xs), m3 = V::load(m + (12 + j) * xs);
    s0[j] = V::add(V::add(m0, m1), m2);
    s1[j] = V::sub(V::sub(m1, m2), m3);
  }
  y00 = V::add(V::add(s0[0], s0[1]), s0[2]);
  y01 = V::sub(V::sub(s0[1], s0[2]), s0[3]);
  y10 = V::add(V::add(s1[0], s1[1]), s1[2]);
  y11 = V::sub(V::sub(s1[1], s1[2]), s1[3]);
}

// out (K, P, Q of cg) rows [2 ty0, 2 ty1) = act(Y + bias) for one image's tiles at Mt column base.
// Output rows are stored as whole vectors straight from the registers; the floats past Q spill
// into the rows after it, which this call writes later (a row built in a buffer and copied Q wide
// stalled on every copy: loads that straddle two recent stores wait for them to retire). Where a
// spill would leave what this call writes (the last rows of a band or of the image), the row goes
// through rowbuf (4 * TWv floats) instead.
template <class V>
void winograd_output(const WinogradGrid& g, const Conv2dGeometry& cg, const float* Mt, int64_t base,
                     int64_t ty0, int64_t ty1, const float* bias, Activation act, float* out,
                     float* rowbuf) {
  using R = typename V::R;
  constexpr int L = V::W;
  const int64_t K = cg.K, P = cg.P, Q = cg.Q;
  const int64_t row_end = std::min(P, 2 * ty1), span = 2 * g.TWv;
  const bool whole = ty0 == 0 && ty1 == g.TH;
  const int64_t xs = K * g.ld;  // next xi in Mt
  for (int64_t k = 0; k < K; ++k) {
    const R vb = V::set1(bias ? bias[k] : 0.0f);
    const float* mk = Mt + k * g.ld + base;
    // Writes of this call for channel k end here: the whole image's, or the band's rows.
    const float* bound = whole ? out + K * P * Q : out + (k * P + row_end) * Q;
    for (int64_t ty = ty0; ty < ty1; ++ty) {
      const float* mt = mk + (ty - ty0) * g.TW;
      float* d0 = out + (k * P + 2 * ty) * Q;
      float* d1 = d0 + Q;
      const bool has_d1 = 2 * ty + 1 < P;
      float* s0 = d0 + span <= bound ? d0 : rowbuf;
      float* s1 = d1 + span <= bound ? d1 : rowbuf + span;
      // Last chunk first: a chunk of row 2ty spills into row 2ty+1 only where that row's chunks
      // of the same or a lower index, stored after it, overwrite the spill.
      for (int64_t v = g.TWv - L; v >= 0; v -= L) {
        R y00, y01, y10, y11;
        winograd_output_tile<V>(mt + v, xs, y00, y01, y10, y11);
        y00 = V::add(y00, vb), y01 = V::add(y01, vb), y10 = V::add(y10, vb), y11 = V::add(y11, vb);
        y00 = conv_act<V>(act, y00), y01 = conv_act<V>(act, y01);
        y10 = conv_act<V>(act, y10), y11 = conv_act<V>(act, y11);
        R lo, hi;
        V::interleave(y00, y01, lo, hi);
        V::store(s0 + 2 * v, lo);
        V::store(s0 + 2 * v + L, hi);
        if (has_d1) {
          V::interleave(y10, y11, lo, hi);
          V::store(s1 + 2 * v, lo);
          V::store(s1 + 2 * v + L, hi);
        }
      }
      if (s0 != d0) copy_floats<V>(s0, Q, d0);
      if (has_d1 && s1 != d1) copy_floats<V>(s1, Q, d1);
    }
  }
}

// out (K, TH, TW) tile rows [ty0, ty1) = act(max of each tile's 2x2 outputs + bias): the fused
// 2x2 max pool, whose windows are exactly the tiles, by max_pool2d's window rule (a NaN input can
// reach only some of a tile's outputs: a plain max dropped it). Pooling before the bias and
// activation gives the same floats as after (see pool_rows_bias_act; act: one of pool_commutes).
// Tiles are contiguous in both Mt and out.
template <class V>
void winograd_output_pooled(const WinogradGrid& g, const float* Mt, int64_t base, int64_t K,
                            int64_t ty0, int64_t ty1, const float* bias, Activation act,
                            float* out) {
  using R = typename V::R;
  constexpr int L = V::W;
  const int64_t Tb = (ty1 - ty0) * g.TW, plane = g.TH * g.TW;
  const int64_t xs = K * g.ld;  // next xi in Mt
  with_pooled_activation(act, [&](auto a) {
    for (int64_t k = 0; k < K; ++k) {
      const R vb = V::set1(bias ? bias[k] : 0.0f);
      const float* mk = Mt + k * g.ld + base;
      float* dst = out + k * plane + ty0 * g.TW;
      const auto block = [&](int64_t u) {
        R y00, y01, y10, y11;
        winograd_output_tile<V>(mk + u, xs, y00, y01, y10, y11);
        return activate<V>(a, V::add(window_max<V>(y00, y01, y10, y11), vb));
      };
      int64_t u = 0;
      for (; u + L <= Tb; u += L) V::store(dst + u, block(u));
      if (u < Tb) {
        // The tail as one whole vector overlapping the previous one (same values again).
        if (Tb >= L) {
          V::store(dst + Tb - L, block(Tb - L));
        } else {
          V::store_partial(dst + u, block(u), static_cast<int>(Tb - u));
        }
      }
    }
  });
}

// out (N, K, P, Q) = act(correlation of in (N, C, H, W), placed at (pad_top, pad_left) of the
// output frame, with w (K, C, 3, 3) + bias), the shapes those of cg (a 3x3 stride-1 layer); with
// pool2x2, out is (N, K, P / 2, Q / 2), its 2x2 max pool.
// threads: as many as the work is worth. group_bytes: 0 for winograd_group_bytes(C) (tests shrink
// it to get bands and partial groups on small images). saved (may be null): keeps every group's
// Vt there, group j at j * winograd_vt_floats (see winograd_saved_floats) for winograd_backward.
template <class V, class Cfg>
void winograd_correlate(const Conv2dGeometry& layer, const float* in, const float* w,
                        const float* bias, float* out, Activation act, bool pool2x2, int threads,
                        int64_t group_bytes = 0, float* saved = nullptr) {
  const Conv2dGeometry cg = winograd_frame(layer, pool2x2);
  const int64_t N = cg.N, C = cg.C, H = cg.H, W = cg.W, K = cg.K, P = cg.P, Q = cg.Q;
  if (N == 0 || K == 0 || P == 0 || Q == 0) return;
  if (group_bytes == 0) group_bytes = winograd_group_bytes(C);
  const WinogradGrid g = make_winograd_grid<V, Cfg>(N, C, K, P, Q, group_bytes);
  const int64_t T = g.TH * g.TW;
  // Shared: the row offsets of Vt for gemm_nn; U packed per xi.
  const int64_t usz = packed_nn_a_size<Cfg>(K, C);
  float* shared = scratch(Scratch::c, 2 * C + (winograd_caches(K, C) ? 0 : 16 * usz));
  auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
  for (int64_t c = 0; c < C; ++c) off[c] = c * g.ld;
  const float* Up = winograd_weights<Cfg>(w, K, C, false, usz, shared + 2 * C);

  const int64_t G = winograd_group_count(g, N), vsz = winograd_vt_floats(g, C);
  int outer, inner;
  split_threads(G, 2.0 * N * K * C * 16 * T, threads, &outer, &inner);
  const float* in_end = in + N * C * H * W;
  const int64_t out_image = pool2x2 ? K * (P / 2) * (Q / 2) : K * P * Q;
  const auto group = [&](int64_t j) {
    const auto [n0, count, ty0, ty1] = winograd_group(g, N, j);
    const int64_t Tb = (ty1 - ty0) * g.TW;
    float* work = scratch(Scratch::a, (saved ? 0 : vsz) + C * g.Hp * g.Wp + 4 * g.TWv);
    float* Vt = saved ? saved + j * vsz : work;
    float* xp = work + (saved ? 0 : vsz);
    float* rowbuf = xp + C * g.Hp * g.Wp;
    float* Mt = scratch(Scratch::b, 16 * K * g.ld);
    std::memset(xp, 0, C * (2 * (ty1 - ty0) + 2) * g.Wp * sizeof(float));
    for (int64_t i = 0; i < count; ++i) {
      winograd_input<V>(g, cg, in + (n0 + i) * C * H * W, ty0, ty1, Vt, i * Tb, xp, in_end);
    }
    // The GEMMs run over whole vectors (a masked tail vector cost as much as a third of the
    // lecture net's input gradient): the columns up to the next whole vector are zeros, their
    // products junk that is never read.
    const int64_t ncols = count * Tb, nvec = (ncols + V::W - 1) / V::W * V::W;
    for (int64_t r = 0; r < 16 * C; ++r) V::store(Vt + r * g.ld + ncols, V::zero());
    winograd_gemms_nn<V, Cfg>(16, K, C, nvec, Up, usz, Vt, g.ld, off, Mt, inner);
    for (int64_t i = 0; i < count; ++i) {
      float* o = out + (n0 + i) * out_image;
      if (pool2x2) {
        winograd_output_pooled<V>(g, Mt, i * Tb, K, ty0, ty1, bias, act, o);
      } else {
        winograd_output<V>(g, cg, Mt, i * Tb, ty0, ty1, bias, act, o, rowbuf);
      }
    }
  };
  parallel_for(G, outer, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) group(j);
  });
}

// ---- weight gradient ----------------------------------------------------------------------
// For Y = A^T [U (.) V] A: dM = A dY A^T per tile (4x4 from the tile's 2x2 output gradient),
// dU_xi (K, C) = sum over tiles of dM_xi[k, t] V_xi[c, t] (16 NT GEMMs reducing over the tiles of
// the whole batch), dw[k, c] = G^T dU[k, c] G. 16 K C multiply-adds per tile, as the forward.

// Bytes of Vt per group for the weight gradient: more columns than the forward's, because each
// NT GEMM call sums its dot products' lanes once (longer rows amortise that): at least 512 KB
// and 320 tiles. AVX2, 1 thread: the lecture net's conv 2 (25 channels: 327 tiles) 2.2 ms with
// 512 KB, 2.4-2.5 with 1 MB, 2.8 with 2 MB; the 64->64 56x56 layer 86-99 ms with 512 KB (128
// tiles, bands of 4 tile rows), 77 with 1 MB, 72-76 with 2 MB.
constexpr int64_t kWinogradWgradGroupBytes = 512 * 1024;
constexpr int64_t kWinogradWgradMinTiles = 320;

inline int64_t winograd_wgrad_group_bytes(int64_t C) {
  return std::max<int64_t>(kWinogradWgradGroupBytes, 16 * 4 * C * kWinogradWgradMinTiles);
}

// Dt columns [base, base + (ty1 - ty0) * TW) of rows (xi, k) = A dY A^T for the tiles of one
// image's dy (K, P, Q of cg),
// A^T = [1 1 1 0; 0 1 -1 -1]; db (may be null) += the band's sum of dY per channel. dy's rows are
// read in place, tiles in whole vectors as winograd_input: lanes past Q (and a last row past P)
// load as zeros, so tiles past TW spill zeros (into columns written later, or the slack).
template <class V>
void winograd_output_grad(const WinogradGrid& g, const Conv2dGeometry& cg, const float* dy,
                          int64_t ty0, int64_t ty1, float* Dt, int64_t base, float* db) {
  using R = typename V::R;
  constexpr int L = V::W;
  const int64_t K = cg.K, P = cg.P, Q = cg.Q;
  const int64_t xs = K * g.ld;
  const R zero = V::zero();
  // The floats of a row from column c on, masked to the row's Q.
  const auto load = [&](const float* row, int64_t c) {
    const int64_t n = std::clamp<int64_t>(Q - c, 0, L);
    return n == L ? V::load(row + c) : n > 0 ? V::load_partial(row + c, static_cast<int>(n)) : zero;
  };
  for (int64_t k = 0; k < K; ++k) {
    float* dk = Dt + k * g.ld + base;
    R sum = zero;  // the bias gradient: every dY of the band
    for (int64_t ty = ty0; ty < ty1; ++ty) {
      const float* row0 = dy + (k * P + 2 * ty) * Q;
      const bool has_row1 = 2 * ty + 1 < P;
      float* dt = dk + (ty - ty0) * g.TW;
      for (int64_t v = 0; v < g.TWv; v += L) {
        R a, b, c = zero, d = zero;  // the tiles' dY = [a b; c d]
        V::deinterleave(load(row0, 2 * v), load(row0, 2 * v + L), a, b);
        if (has_row1) V::deinterleave(load(row0 + Q, 2 * v), load(row0 + Q, 2 * v + L), c, d);
        sum = V::add(sum, V::add(V::add(a, b), V::add(c, d)));
        // Rows of A dY: (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); then each row (p, q)
        // times A^T: (p, p + q, p - q, -q).
        const R p[4] = {a, V::add(a, c), V::sub(a, c), V::sub(V::zero(), c)};
        const R q[4] = {b, V::add(b, d), V::sub(b, d), V::sub(V::zero(), d)};
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          float* o = dt + 4 * i * xs + v;
          V::store(o, p[i]);
          V::store(o + xs, V::add(p[i], q[i]));
          V::store(o + 2 * xs, V::sub(p[i], q[i]));
          V::store(o + 3 * xs, V::sub(V::zero(), q[i]));
        }
      }
    }
    if (db) db[k] += V::hsum(sum);
  }
}

// dw[k, c] (3x3) = G^T dU[k, c] G for dU (16, K, C); G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
inline void winograd_weight_grad_from_u(const float* dU, int64_t K, int64_t C, float* dw) {
  const int64_t xs = K * C;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* u = dU + k * C + c;
      float t[3][4];  // G^T dU
      for (int j = 0; j < 4; ++j) {
        const float u0 = u[j * xs], u1 = u[(4 + j) * xs], u2 = u[(8 + j) * xs],
                    u3 = u[(12 + j) * xs];
        t[0][j] = u0 + 0.5f * (u1 + u2);
        t[1][j] = 0.5f * (u1 - u2);
        t[2][j] = 0.5f * (u1 + u2) + u3;
      }
      float* o = dw + (k * C + c) * 9;
      for (int i = 0; i < 3; ++i) {  // (G^T dU) G
        o[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]);
        o[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]);
        o[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
}

// ---- input gradient: the adjoint of the forward ------------------------------------------
// For Y = A^T [U (.) (B^T d B)] A per tile: dV_xi (C, tiles) = U_xi^T (C, K) dM_xi (K, tiles), with
// dM = A dY A^T (the weight gradient's Dt), and each tile's 4x4 patch gradient dd = B dV B^T,
// summed where neighbouring patches overlap (two rows, two columns). 16 K C multiply-adds per
// tile as the forward, over the forward's tiles: no padded dy, no tiles of the padding, no
// flipped weights; with the weight gradient in the same pass, Dt is made once for both.

// Columns of an adjoint plane: tile t writes columns 2t .. 2t + 3, so one tile more than TW,
// in whole vectors of tiles (two floats each).
template <class V>
int64_t winograd_adjoint_width(const WinogradGrid& g) {
  return 2 * ((g.TW + V::W) / V::W * V::W);
}

// Rows [2 ty0, 2 ty1 + 2) of one channel's patch-gradient plane (rows wa apart; row i, column j
// is the padded input's (i, j), as winograd_input's xp) from dV (this channel's tiles: tile
// (ty, tx) at dv[(ty - ty0) * TW + tx], xi rows xs apart): dd = B dV B^T per tile, with
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], added where tiles overlap. Tile row ty adds its
// rows 0, 1 to what tile row ty - 1 stored there (stores them when ty is 0) and stores its rows
// 2, 3. Along a row, tile t's columns 2, 3 are tile t + 1's columns 0, 1: they move one lane up
// (slide1), the last lane carried into the next vector; lanes past TW load zeros.
template <class V>
void winograd_input_grad_rows(const WinogradGrid& g, const float* dv, int64_t xs, int64_t ty0,
                              int64_t ty1, float* plane, int64_t wa) {
  using R = typename V::R;
  constexpr int L = V::W;
  const R zero = V::zero();
  for (int64_t ty = ty0; ty < ty1; ++ty) {
    const float* d = dv + (ty - ty0) * g.TW;
    float* row = plane + 2 * ty * wa;
    R carry[4][2] = {{zero, zero}, {zero, zero}, {zero, zero}, {zero, zero}};
    for (int64_t v = 0; 2 * v < wa; v += L) {
      const int64_t n = std::clamp<int64_t>(g.TW - v, 0, L);
      const auto load = [&](int xi) {
        const float* p = d + v + xi * xs;
        return n == L ? V::load(p) : n > 0 ? V::load_partial(p, static_cast<int>(n)) : zero;
      };
      R e[4][4];  // B dV: rows (m0, m1 - m2 + m3, m1 + m2 - m0, -m3) of each column j
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const R m0 = load(j), m1 = load(4 + j), m2 = load(8 + j), m3 = load(12 + j);
        e[0][j] = m0;
        e[1][j] = V::add(V::sub(m1, m2), m3);
        e[2][j] = V::sub(V::add(m1, m2), m0);
        e[3][j] = V::sub(zero, m3);
      }
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {  // (B dV) B^T, then the overlap with the tile to the left
        const R f0 = e[r][0], f1 = V::add(V::sub(e[r][1], e[r][2]), e[r][3]);
        const R f2 = V::sub(V::add(e[r][1], e[r][2]), e[r][0]), f3 = V::sub(zero, e[r][3]);
        const R even = V::add(f0, V::slide1(carry[r][0], f2));
        const R odd = V::add(f1, V::slide1(carry[r][1], f3));
        carry[r][0] = f2, carry[r][1] = f3;
        R lo, hi;
        V::interleave(even, odd, lo, hi);
        float* o = row + r * wa + 2 * v;
        if (r < 2 && ty > 0) lo = V::add(lo, V::load(o)), hi = V::add(hi, V::load(o + L));
        V::store(o, lo);
        V::store(o + L, hi);
      }
    }
  }
}

// dx (C, H, W of cg) of one image from its C adjoint planes (rows 2 TH + 2, wa apart): the input
// sits at (top, left) = (pad_top, pad_left) of the planes, as in winograd_input. The planes reach
// every input: P = H + top + bottom - 2 <= 2 TH and Q = W + left + right - 2 <= 2 TW, so h + top <
// 2 TH + 2 and w + left < 2 TW + 2 <= wa.
template <class V>
void winograd_input_grad_store(const WinogradGrid& g, const Conv2dGeometry& cg, const float* planes,
                               int64_t wa, float* dx) {
  const int64_t C = cg.C, H = cg.H, W = cg.W, top = cg.pad_top, left = cg.pad_left;
  const int64_t rows = 2 * g.TH + 2;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h) {
      copy_floats<V>(planes + (c * rows + h + top) * wa + left, W, dx + (c * H + h) * W);
    }
}

// What every group of one winograd_backward call reads.
struct WinogradBackwardPass {
  Conv2dGeometry cg;
  WinogradGrid g;
  const float* x;      // null when saved or when dw is not wanted
  const float* x_end;  // the end of x's buffer
  const float* dy;
  const float* saved;  // the forward's Vt of every group, or null
  const float* Ut;     // U^T packed for gemm_nn (dx wanted)
  const int64_t* off;  // GEMM row offsets: row i of Vt, dV or Dt at i * ld
  float* dx;           // null: not wanted
  bool want_dw, want_db;
  int64_t usz, vsz;       // floats of one xi's Ut block; of one group's Vt
  int64_t wa, adj_plane;  // an adjoint plane's row stride and floats
  int inner;              // threads inside each GEMM
};

// One thread's buffers for winograd_backward.
struct WinogradBackwardBuffers {
  float* work;    // Vt when transformed here, then dV (over it: Vt is read before dV is made)
  float* xp;      // x's padded planes (when transforming x)
  float* planes;  // dx's adjoint planes
  float* Dt;      // A dY A^T of the group
  float* dU;      // this thread's dU (16, K, C) (dw wanted)
  float* db;      // this thread's db (K)
};

inline bool winograd_transforms_x(const WinogradBackwardPass& s) {
  return s.want_dw && !s.saved;
}

// The thread's buffers, its partial sums (`part` floats from `part_sums`) zeroed.
inline WinogradBackwardBuffers winograd_backward_buffers(const WinogradBackwardPass& s,
                                                         float* part_sums, int64_t part) {
  const WinogradGrid& g = s.g;
  const int64_t C = s.cg.C, K = s.cg.K;
  const bool transform_x = winograd_transforms_x(s);
  WinogradBackwardBuffers b;
  b.dU = part_sums;
  b.db = part_sums + (s.want_dw ? 16 * K * C : 0);
  std::memset(part_sums, 0, part * sizeof(float));
  const int64_t vt = (transform_x || s.dx) ? s.vsz : 0, xp = transform_x ? C * g.Hp * g.Wp : 0;
  b.work = scratch(Scratch::a, vt + xp + (s.dx ? C * s.adj_plane : 0));
  b.xp = b.work + vt;
  b.planes = b.xp + xp;
  b.Dt = scratch(Scratch::b, 16 * K * g.ld);
  return b;
}

// Transform phase of group j: Vt = B^T x B (unless saved) and Dt = A dY A^T of its images, each
// zero-padded to whole vectors of columns (the zeros add nothing to the GEMMs' sums, and their
// dV is never read); the bias gradient on the way. The group's tiles: `ncols` columns.
template <class V>
void winograd_backward_transform(const WinogradBackwardPass& s, const WinogradBackwardBuffers& b,
                                 const WinogradGroup& grp, int64_t ncols) {
  const WinogradGrid& g = s.g;
  const Conv2dGeometry& cg = s.cg;
  const int64_t C = cg.C, K = cg.K, Tb = (grp.ty1 - grp.ty0) * g.TW;
  const bool transform_x = winograd_transforms_x(s);
  if (transform_x) std::memset(b.xp, 0, C * (2 * (grp.ty1 - grp.ty0) + 2) * g.Wp * sizeof(float));
  for (int64_t i = 0; i < grp.count; ++i) {
    const int64_t n = grp.n0 + i;
    if (transform_x) {
      winograd_input<V>(g, cg, s.x + n * C * cg.H * cg.W, grp.ty0, grp.ty1, b.work, i * Tb, b.xp,
                        s.x_end);
    }
    winograd_output_grad<V>(g, cg, s.dy + n * K * cg.P * cg.Q, grp.ty0, grp.ty1, b.Dt, i * Tb,
                            s.want_db ? b.db : nullptr);
  }
  for (int64_t r = 0; r < 16 * K; ++r) V::store(b.Dt + r * g.ld + ncols, V::zero());
  // (The forward zeroed the saved Vt's the same way.)
  if (transform_x) {
    for (int64_t r = 0; r < 16 * C; ++r) V::store(b.work + r * g.ld + ncols, V::zero());
  }
}

// Output phase of the input gradient: each image's patch gradients B dV B^T into its adjoint
// planes, stored to dx once the image's last band is in.
template <class V>
void winograd_backward_adjoint(const WinogradBackwardPass& s, const WinogradBackwardBuffers& b,
                               const WinogradGroup& grp) {
  const WinogradGrid& g = s.g;
  const Conv2dGeometry& cg = s.cg;
  const int64_t C = cg.C, Tb = (grp.ty1 - grp.ty0) * g.TW;
  for (int64_t i = 0; i < grp.count; ++i) {
    for (int64_t c = 0; c < C; ++c) {
      winograd_input_grad_rows<V>(g, b.work + c * g.ld + i * Tb, C * g.ld, grp.ty0, grp.ty1,
                                  b.planes + c * s.adj_plane, s.wa);
    }
    if (grp.ty1 == g.TH) {
      winograd_input_grad_store<V>(g, cg, b.planes, s.wa, s.dx + (grp.n0 + i) * C * cg.H * cg.W);
    }
  }
}

// Group j of a backward: the transforms, the weight gradient's 16 NT GEMMs dU += Dt Vt^T, the
// input gradient's 16 NN GEMMs dV = U^T Dt (into Vt's buffer) and their adjoint.
template <class V, class Cfg>
void winograd_backward_group(const WinogradBackwardPass& s, const WinogradBackwardBuffers& b,
                             int64_t j) {
  const WinogradGrid& g = s.g;
  const int64_t C = s.cg.C, K = s.cg.K;
  const WinogradGroup grp = winograd_group(g, s.cg.N, j);
  const int64_t ncols = grp.count * (grp.ty1 - grp.ty0) * g.TW;
  const int64_t nvec = (ncols + V::W - 1) / V::W * V::W;
  winograd_backward_transform<V>(s, b, grp, ncols);
  if (s.want_dw) {
    const float* Vt = s.saved ? s.saved + j * s.vsz : b.work;
    winograd_gemms_nt<V, Cfg>(16, K, C, nvec, b.Dt, Vt, g.ld, s.off, b.dU, s.inner);
  }
  if (!s.dx) return;
  winograd_gemms_nn<V, Cfg>(16, C, K, nvec, s.Ut, s.usz, b.Dt, g.ld, s.off, b.work, s.inner);
  winograd_backward_adjoint<V>(s, b, grp);
}

// The backward pass of a stride-1 3x3 layer of geometry cg: x (N, C, H, W) placed at (pad_top,
// pad_left) of the output frame, w (K, C, 3, 3), dy (N, K, P, Q). dx (N, C, H, W): the input
// gradient (null: not wanted; w and x unused then as needed); dw (K, C, 3, 3) and db (K): the
// weight and bias gradients (dw null: not wanted, x unused; db may be null). Per group of images
// (or band of one image's tile rows) and thread: winograd_backward_group.
// Each thread reduces its images into its own dU; the threads' dU are then summed in thread order:
// deterministic for a thread count. dx does not depend on the thread count or the grouping.
// group_bytes: 0 for winograd_wgrad_group_bytes(C) (tests shrink it to get bands). saved (may be
// null): the forward's Vt of every group (winograd_correlate with the same group_bytes): x is not
// read then.
template <class V, class Cfg>
void winograd_backward(const Conv2dGeometry& cg, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, int threads, int64_t group_bytes = 0,
                       const float* saved = nullptr) {
  const int64_t N = cg.N, C = cg.C, K = cg.K, KC = K * C;
  if (group_bytes == 0) group_bytes = winograd_wgrad_group_bytes(C);
  WinogradBackwardPass s;
  s.cg = cg;
  s.g = make_winograd_grid<V, Cfg>(N, C, K, cg.P, cg.Q, group_bytes);
  const WinogradGrid& g = s.g;
  const int64_t T = g.TH * g.TW, G = winograd_group_count(g, N), nbands = winograd_bands(g);
  s.vsz = winograd_vt_floats(g, C);
  // A thread owns whole images when it writes dx (the bands of an image share their planes'
  // overlapping rows, filled in order); otherwise it takes whole groups.
  const bool by_image = dx && g.band < g.TH;
  const int64_t items = by_image ? N : G;
  int outer;
  split_threads(items, 2.0 * N * K * C * 16 * T * ((dx != nullptr) + (dw != nullptr)), threads,
                &outer, &s.inner);
  // Shared: GEMM row offsets; U^T packed for the input gradient (when not cached); per thread a
  // dU (16, K, C) and a db (K).
  s.usz = dx ? packed_nn_a_size<Cfg>(C, K) : 0;
  const bool cached = winograd_caches(C, K);
  const int64_t noff = std::max(C, K), part = (dw ? 16 * KC : 0) + K;
  float* shared = scratch(Scratch::c, 2 * noff + (cached ? 0 : 16 * s.usz) + outer * part);
  auto* off = reinterpret_cast<int64_t*>(shared);
  float* parts = shared + 2 * noff + (cached ? 0 : 16 * s.usz);
  for (int64_t i = 0; i < noff; ++i) off[i] = i * g.ld;
  s.off = off;
  s.Ut = dx ? winograd_weights<Cfg>(w, C, K, true, s.usz, shared + 2 * noff) : nullptr;
  s.wa = winograd_adjoint_width<V>(g), s.adj_plane = (2 * g.TH + 2) * s.wa;
  s.x = x, s.x_end = x ? x + N * C * cg.H * cg.W : nullptr, s.dy = dy, s.saved = saved;
  s.dx = dx, s.want_dw = dw != nullptr, s.want_db = db != nullptr;
  int used = 1;  // threads OpenMP really gave us
  run_parallel(outer, [&](int tid, int nt) {
    if (tid == 0) used = nt;
    const WinogradBackwardBuffers b = winograd_backward_buffers(s, parts + tid * part, part);
    int64_t i0, i1;
    split_range(items, nt, tid, &i0, &i1);
    for (int64_t i = i0; i < i1; ++i) {
      if (by_image) {
        for (int64_t band = 0; band < nbands; ++band) {  // image i's bands in order
          winograd_backward_group<V, Cfg>(s, b, i * nbands + band);
        }
      } else {
        winograd_backward_group<V, Cfg>(s, b, i);
      }
    }
  });
  // Reduce phase: the threads' sums in a fixed order, then dw from dU.
  winograd_sum_parts(parts, part, used);
  if (dw) winograd_weight_grad_from_u(parts, K, C, dw);
  if (db) std::memcpy(db, parts + (dw ? 16 * KC : 0), K * sizeof(float));
}

// dw (K, C, 3, 3) and db (K; may be null) of a stride-1 3x3 layer (winograd_backward without dx).
template <class V, class Cfg>
void winograd_weight_grad(const Conv2dGeometry& cg, const float* x, const float* dy, float* dw,
                          float* db, int threads, int64_t group_bytes = 0) {
  winograd_backward<V, Cfg>(cg, x, nullptr, dy, nullptr, dw, db, threads, group_bytes);
}

// Floats winograd_correlate saves for winograd_backward (both with winograd_wgrad_group_bytes).
template <class V, class Cfg>
int64_t winograd_saved_floats(int64_t N, int64_t C, int64_t K, int64_t P, int64_t Q) {
  const WinogradGrid g = make_winograd_grid<V, Cfg>(N, C, K, P, Q, winograd_wgrad_group_bytes(C));
  return winograd_group_count(g, N) * winograd_vt_floats(g, C);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
