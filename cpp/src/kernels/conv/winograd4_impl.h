// Winograd F(4x4, 3x3) for small images (forward pass, and training's backward), with the vector
// lanes running over images.
//
// Each 4x4 block of outputs (a "tile") comes from the 6x6 input patch d under it:
//   Y = A^T [ sum_c (G w_kc G^T) (.) (B^T d_c B) ] A
// so a layer is 36 GEMMs, one per position xi = 6 i + j of the transformed patch, of 36 K C
// multiply-adds per tile where F(2x2, 3x3) (winograd_impl.h) needs 64 for the same 16 outputs and
// a direct correlation 144. Lavin & Gray's matrices (points 0, +-1, +-2):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// The larger constants cost accuracy: about four times F(2x2)'s error (a weight gradient's
// exact zeros came out as 2e-5 against 5e-6, next to entries of 30), still within the conv tests'
// tolerances against the float64 reference.
//
// Why the lanes run over images: a small layer has few tiles per row (the lecture net's conv 2:
// 11x11 outputs, 3x3 tiles), so transforms vectorised along a tile row (as F(2x2)'s are) would
// leave most lanes idle. Here a vector holds one tile position of V::W images: the transforms are
// plain vertical adds with no shuffles and every lane busy. The images are first copied into an
// interleaved padded plane per channel, (Hp, Wp, V::W) floats, and the outputs are transposed
// back the same way (V::transpose, V::W x V::W blocks).
// Images left over after the whole blocks of V::W go through the same arithmetic with the lanes
// over their tiles, each lane's patch gathered from the image's padded plane.
//
// A column of Vt (36, C, ld) and Mt (36, K, ld) is one tile of one image, and every output depends
// only on its own column, computed by the same operations in either layout: the same floats
// whatever the batch size, the grouping or the thread count. Training uses it on batches of whole
// blocks (winograd4_backward below; the forward saves its transform for it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/winograd_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy (see conv2d_impl.h).
namespace {

// A block's transformed input (36 C tiles-per-image V::W floats) must stay below this: beyond it
// (large images) F(2x2), banded along tile rows, takes over. It need not fit the 1 MB L2 (each of
// the 36 GEMMs streams its own slice): on a Zen 4 (1 thread, batch 64, thread CPU time,
// benchmarks/conv_shapes.cpp) raising the limit from 1 to 8 MB moved the forward of 32->64 3x3 on
// 16x16 (a 1.2 MB block at 16 lanes) from 86-107% to 171-217% of the direct-FLOP peak, 64->64 on
// 16x16 (2.4 MB) from 117-119% to 194-248% (AVX2: 1.2 MB, 117-146% to 204-226%), 16->16 on 28x28
// from 88% to 159-168%, 32->32 on 32x32 (4.7 MB) from 107-110% to 139-176%; end to end
// (suite_pocketcnn.py, AVX-512) Keras CIFAR-10 inference 107-122 -> 72-105 ms per batch of 256,
// its training step 197-224 -> 135-209 ms, the stem net's 66-68 -> 57-58 and 40-43 -> 30-36 ms.
// 64->64 on 56x56 (14-29 MB) ran at par either way and stays on F(2x2).
// For 4-byte floats the lecture net's conv 2 needs 259 KB with 8 lanes (518 KB with 16).
constexpr int64_t kWinograd4MaxBlockBytes = 8 << 20;

struct Winograd4Grid {
  int64_t TH = 0, TW = 0, T = 0;  // tiles per image (tile (ty, tx) = outputs 4 ty.., 4 tx..)
  int64_t Hp = 0, Wp = 0;         // an image's padded plane: 4 TH + 2 rows, 4 TW + 2 columns
};

inline Winograd4Grid make_winograd4_grid(int64_t P, int64_t Q) {
  Winograd4Grid g;
  g.TH = (P + 3) / 4, g.TW = (Q + 3) / 4, g.T = g.TH * g.TW;
  g.Hp = 4 * g.TH + 2, g.Wp = 4 * g.TW + 2;
  return g;
}

// Whether the image-lane F(4x4) path takes a 3x3 stride-1 layer of C input channels and (P, Q)
// outputs. The choice must not depend on the batch (outputs would then change with it) nor differ
// between a layer's forward and its fused forward + pool (callers pass the unpooled P, Q).
template <class V>
bool winograd4_suits(int64_t C, int64_t P, int64_t Q) {
  const Winograd4Grid g = make_winograd4_grid(P, Q);
  return 36 * 4 * C * g.T * V::W <= kWinograd4MaxBlockBytes;
}

// U_xi (K, C) = (G w'[k, c] G^T)[xi] for the 36 xi, in gemm_nn's packed layout (see
// winograd_weights_packed), one block of usz floats per xi. w' is w (K, C, 3, 3), or with
// `transposed` w (C, K, 3, 3) read as w'[k, c] = w[c, k]: U^T for the input gradient. Computed in
// double: the sixths and twenty-fourths are then rounded once.
template <class Cfg>
void winograd4_weights_packed(const float* w, int64_t K, int64_t C, float* Up, int64_t usz,
                              bool transposed = false) {
  const int64_t mr = choose_nn_shape<Cfg>(K).mr, Kp = (K + mr - 1) / mr * mr;
  for (int xi = 0; xi < 36; ++xi)
    for (int64_t k = K; k < Kp; ++k)
      for (int64_t c = 0; c < C; ++c) Up[xi * usz + k / mr * mr * C + c * mr + k % mr] = 0.0f;
  // G (a, b, c)^T, by multiplications (divisions made this 2% of a training step).
  const auto g_times = [](double a, double b, double c, double* o) {
    constexpr double s6 = 1.0 / 6, s12 = 1.0 / 12, s24 = 1.0 / 24;
    const double ac = a + c;
    o[0] = a * 0.25;
    o[1] = -(ac + b) * s6;
    o[2] = -(ac - b) * s6;
    o[3] = a * s24 + b * s12 + c * s6;
    o[4] = a * s24 - b * s12 + c * s6;
    o[5] = c;
  };
  // The (k, c) pairs are independent: threads over k (each pair is computed alike, so U does not
  // depend on the thread count). Training transforms every step (the weights change), on the
  // calling thread before the layer's parallel phase: 3.3 M instructions a small ResNet step
  // (callgrind, 2 threads). ~1,000 vector-FMA-flop equivalents a pair (~150 flops of scalar
  // double): 64 x 64 channels take two threads, 16 x 16 stays on one.
  const int nt = threads_for(K, 1000.0 * static_cast<double>(K * C), get_num_threads());
  parallel_for(K, nt, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t c = 0; c < C; ++c) {
        const float* g = w + (transposed ? c * K + k : k * C + c) * 9;
        double t[6][3];  // G g: column j of g through G
        for (int j = 0; j < 3; ++j) {
          double col[6];
          g_times(g[j], g[3 + j], g[6 + j], col);
          for (int i = 0; i < 6; ++i) t[i][j] = col[i];
        }
        float* u = Up + k / mr * mr * C + c * mr + k % mr;
        for (int i = 0; i < 6; ++i) {  // (G g) G^T: row i of G g through G
          double row[6];
          g_times(t[i][0], t[i][1], t[i][2], row);
          for (int j = 0; j < 6; ++j) u[(6 * i + j) * usz] = static_cast<float>(row[j]);
        }
      }
  });
}

// U (or with `transposed` U^T) packed for gemm_nn: from the cache where the layer is small enough
// for it (winograd_caches), else packed into buf (36 usz floats).
template <class Cfg>
const float* winograd4_weights(const float* w, int64_t K, int64_t C, bool transposed, int64_t usz,
                               float* buf) {
  if (winograd_caches(K, C)) {
    return winograd_weights_cached_as(w, K, C, transposed, 4, 36 * usz, [&](float* up) {
      winograd4_weights_packed<Cfg>(w, K, C, up, usz, transposed);
    });
  }
  winograd4_weights_packed<Cfg>(w, K, C, buf, usz, transposed);
  return buf;
}

// (B^T d)[0..5] of one column (d0..d5: the patch's rows), with explicit multiply-adds only, so
// that no compiler contracts the two layouts' copies of this arithmetic differently.
template <class V>
inline void winograd4_bt(const typename V::R* d, typename V::R* r) {
  const typename V::R c4 = V::set1(4.0f), cm4 = V::set1(-4.0f), c2 = V::set1(2.0f),
                      cm2 = V::set1(-2.0f), cm5 = V::set1(-5.0f);
  r[0] = V::fmadd(c4, d[0], V::fmadd(cm5, d[2], d[4]));
  r[1] = V::fmadd(cm4, V::add(d[1], d[2]), V::add(d[3], d[4]));
  r[2] = V::fmadd(c4, V::sub(d[1], d[2]), V::sub(d[4], d[3]));
  r[3] = V::fmadd(c2, V::sub(d[3], d[1]), V::sub(d[4], d[2]));
  r[4] = V::fmadd(cm2, V::sub(d[3], d[1]), V::sub(d[4], d[2]));
  r[5] = V::fmadd(c4, d[1], V::fmadd(cm5, d[3], d[5]));
}

// B^T d B of V::W patches at once: patch value (i, j) of every lane is the vector at
// d + i * rs + j * cs. Result xi = 6 i + j to out + xi * xs.
template <class V>
inline void winograd4_input_tile(const float* d, int64_t rs, int64_t cs, float* out, int64_t xs) {
  using R = typename V::R;
  R t[6][6];  // t[j] = column j of B^T d
  for (int j = 0; j < 6; ++j) {
    R col[6];
    for (int i = 0; i < 6; ++i) col[i] = V::load(d + i * rs + j * cs);
    winograd4_bt<V>(col, t[j]);
  }
  for (int i = 0; i < 6; ++i) {  // row i of (B^T d) B = B^T applied to row i of B^T d
    const R row[6] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i], t[5][i]};
    R o[6];
    winograd4_bt<V>(row, o);
    for (int j = 0; j < 6; ++j) V::store(out + (6 * i + j) * xs, o[j]);
  }
}

// (A^T m)[0..3] of one column m0..m5.
template <class V>
inline void winograd4_at(const typename V::R* m, typename V::R* y) {
  using R = typename V::R;
  const R a12 = V::add(m[1], m[2]), d12 = V::sub(m[1], m[2]);
  const R a34 = V::add(m[3], m[4]), d34 = V::sub(m[3], m[4]);
  y[0] = V::add(V::add(m[0], a12), a34);
  y[1] = V::fmadd(V::set1(2.0f), d34, d12);
  y[2] = V::fmadd(V::set1(4.0f), a34, a12);
  y[3] = V::fmadd(V::set1(8.0f), d34, V::add(d12, m[5]));
}

// Y = A^T m A (4x4 outputs, y[4 i + j]) of V::W columns: m's row xi is xs further per xi.
template <class V>
inline void winograd4_output_tile(const float* m, int64_t xs, typename V::R* y) {
  using R = typename V::R;
  R s[6][4];  // s[j] = A^T of column j
  for (int j = 0; j < 6; ++j) {
    R col[6];
    for (int i = 0; i < 6; ++i) col[i] = V::load(m + (6 * i + j) * xs);
    winograd4_at<V>(col, s[j]);
  }
  for (int i = 0; i < 4; ++i) {
    const R row[6] = {s[0][i], s[1][i], s[2][i], s[3][i], s[4][i], s[5][i]};
    winograd4_at<V>(row, y + 4 * i);
  }
}

// dst[x L + l] = src[l ls + x] for x in [x0, x1) and lanes l < V::W: one row of V::W images
// interleaved (dst is the row's start). L x L blocks through V::transpose; a last partial block
// overlaps the one before it (stores the same values again) or, in rows narrower than a vector,
// goes float by float.
template <class V>
inline void transpose_in(const float* src, int64_t ls, int64_t x0, int64_t x1, float* dst) {
  using R = typename V::R;
  constexpr int L = V::W;
  if (x1 - x0 < L) {
    for (int l = 0; l < L; ++l)
      for (int64_t x = x0; x < x1; ++x) dst[x * L + l] = src[l * ls + x];
    return;
  }
  for (int64_t x = x0;; x += L) {
    const int64_t xb = std::min(x, x1 - L);
    R r[L];
    for (int l = 0; l < L; ++l) r[l] = V::load(src + l * ls + xb);
    V::transpose(r);
    for (int j = 0; j < L; ++j) V::store(dst + (xb + j) * L, r[j]);
    if (xb == x1 - L) break;
  }
}

// The sum of n vectors (n V::W floats from p), with four accumulators in a fixed order.
template <class V>
inline typename V::R sum_vectors(const float* p, int64_t n) {
  typename V::R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 = V::add(a0, V::load(p + i * V::W));
    a1 = V::add(a1, V::load(p + (i + 1) * V::W));
    a2 = V::add(a2, V::load(p + (i + 2) * V::W));
    a3 = V::add(a3, V::load(p + (i + 3) * V::W));
  }
  for (; i < n; ++i) a0 = V::add(a0, V::load(p + i * V::W));
  return V::add(V::add(a0, a1), V::add(a2, a3));
}

// dst[l ls + i] = src[i L + l] for i < n and lanes l < V::W: the inverse of transpose_in, from
// n vectors of V::W lanes to V::W rows of n floats.
template <class V>
inline void transpose_out(const float* src, int64_t n, float* dst, int64_t ls) {
  using R = typename V::R;
  constexpr int L = V::W;
  if (n < L) {
    for (int l = 0; l < L; ++l)
      for (int64_t i = 0; i < n; ++i) dst[l * ls + i] = src[i * L + l];
    return;
  }
  for (int64_t i = 0;; i += L) {
    const int64_t ib = std::min(i, n - L);
    R r[L];
    for (int j = 0; j < L; ++j) r[j] = V::load(src + (ib + j) * L);
    V::transpose(r);
    for (int l = 0; l < L; ++l) V::store(dst + l * ls + ib, r[l]);
    if (ib == n - L) break;
  }
}

// Row stride of Vt and Mt for groups of at most `cols` columns: whole vectors, an odd number of
// them (rows a multiple of 4 KB apart share the L1 cache's sets).
template <class V>
int64_t winograd4_ld(int64_t cols) {
  int64_t ld = (cols + V::W - 1) / V::W * V::W;
  if ((ld / V::W) % 2 == 0) ld += V::W;
  return ld;
}

// Images of N in blocks of V::W, the last block padded with zero images where N is not a
// multiple of V::W.
template <class V>
int64_t winograd4_padded(int64_t N) {
  return (N + V::W - 1) / V::W * V::W;
}

// Training with F(4x4) takes batches of at least one block of V::W images, all in blocks: a last
// partial block gets zero images in its empty lanes (they add exact zeros to the weight gradient
// and their outputs are never stored). It costs 36/64 of F(2x2)'s multiply-adds per lane, so
// it pays while the lanes are mostly images: at least 3/4 of them (a batch of 9 or 17 in lanes of
// 8 trains with F(2x2); 13, 25 and 100 with F(4x4)).
template <class V>
bool winograd4_trains(int64_t N, int64_t C, int64_t P, int64_t Q) {
  return N >= V::W && 4 * N >= 3 * winograd4_padded<V>(N) && winograd4_suits<V>(C, P, Q);
}

// Floats of one block's Vt (36, C, ld) when saving (one block per group).
template <class V>
int64_t winograd4_vt_floats(int64_t C, int64_t P, int64_t Q) {
  return 36 * C * winograd4_ld<V>(make_winograd4_grid(P, Q).T * V::W);
}

// Floats winograd4_correlate saves for winograd4_backward: one Vt per block, the last one
// possibly partial.
template <class V>
int64_t winograd4_saved_floats(int64_t N, int64_t C, int64_t P, int64_t Q) {
  return winograd4_padded<V>(N) / V::W * winograd4_vt_floats<V>(C, P, Q);
}

// The `lanes` images of a partial block (`image` floats each, from `images`) copied into `pad`,
// followed by zero images up to V::W: the block loops then read V::W whole images.
template <class V>
const float* winograd4_padded_block(const float* images, int64_t lanes, int64_t image, float* pad) {
  std::memcpy(pad, images, lanes * image * sizeof(float));
  std::memset(pad + lanes * image, 0, (V::W - lanes) * image * sizeof(float));
  return pad;
}

// The rows [y0, y1) and columns [x0, x1) of an image's input (H, W) that land inside its padded
// plane when placed at (top, left) of the output frame.
struct Winograd4Span {
  int64_t y0, y1, x0, x1;
};

inline Winograd4Span winograd4_span(const Winograd4Grid& g, int64_t H, int64_t W, int64_t top,
                                    int64_t left) {
  const int64_t y0 = std::clamp<int64_t>(-top, 0, H), x0 = std::clamp<int64_t>(-left, 0, W);
  return {y0, std::clamp<int64_t>(g.Hp - top, y0, H), x0, std::clamp<int64_t>(g.Wp - left, x0, W)};
}

// Vt columns [0, T V::W) of every row (xi, c) (rows ld apart, vt: the block's first column) =
// B^T d B for the tiles of the V::W images at `images` (C, H, W of cg each, consecutive, at
// (pad_top, pad_left) of the output frame): each channel
// is transposed into xp, an interleaved padded plane (Hp, Wp, V::W) whose padding the caller has
// zeroed (the copy rewrites the same interior every channel), then transformed tile by tile.
template <class V>
void winograd4_input_block(const Winograd4Grid& g, const Winograd4Span& sp,
                           const Conv2dGeometry& cg, const float* images, float* xp, float* vt,
                           int64_t ld) {
  constexpr int L = V::W;
  const int64_t C = cg.C, H = cg.H, W = cg.W, top = cg.pad_top, left = cg.pad_left;
  for (int64_t c = 0; c < C; ++c) {
    // Input (y, x) of lane l at ((y + top) Wp + x + left) L + l.
    for (int64_t y = sp.y0; y < sp.y1; ++y) {
      transpose_in<V>(images + (c * H + y) * W, C * H * W, sp.x0, sp.x1,
                      xp + ((y + top) * g.Wp + left) * L);
    }
    for (int64_t ty = 0; ty < g.TH; ++ty)
      for (int64_t tx = 0; tx < g.TW; ++tx) {
        winograd4_input_tile<V>(xp + (4 * ty * g.Wp + 4 * tx) * L, g.Wp * L, L,
                                vt + c * ld + (ty * g.TW + tx) * L, C * ld);
      }
  }
}

// One group of columns: `blocks` whole blocks of V::W images from image n0 (column
// (b T + t) V::W + lane: tile t of image n0 + b V::W + lane), or (blocks == 0) `count` images
// from n0 with the lanes over their tiles (column i T + t).
struct Winograd4Group {
  int64_t n0, blocks, count;
};

// How one winograd4_correlate call groups its images: `full` whole blocks of V::W images,
// per_group of them a group, then the `tail` images left over in one last group with the lanes
// over their tiles (none when saving: the last block is padded with zero images instead).
struct Winograd4Plan {
  int64_t lanes = 0;  // V::W
  int64_t full = 0, tail = 0, per_group = 1, full_groups = 0, G = 0;
  int64_t ld = 0;  // row stride of Vt and Mt
};

template <class V>
Winograd4Plan make_winograd4_plan(int64_t N, int64_t C, int64_t T, int64_t group_bytes,
                                  bool saving) {
  constexpr int L = V::W;
  Winograd4Plan p;
  p.lanes = L;
  p.full = saving ? winograd4_padded<V>(N) / L : N / L;
  p.tail = saving ? 0 : N % L;
  p.per_group =
      std::clamp<int64_t>(group_bytes / (36 * 4 * C * T * L), 1, std::max<int64_t>(p.full, 1));
  p.full_groups = (p.full + p.per_group - 1) / p.per_group;
  p.G = p.full_groups + (p.tail > 0);
  // Row stride of Vt and Mt: the widest group, in whole vectors, made an odd number of vectors
  // (rows a multiple of 4 KB apart share the L1 cache's sets).
  p.ld = winograd4_ld<V>(std::max(std::min(p.per_group, p.full) * T * L, p.tail * T));
  return p;
}

inline Winograd4Group winograd4_group(const Winograd4Plan& p, int64_t j) {
  if (j < p.full_groups) {
    const int64_t b0 = j * p.per_group;
    return {b0 * p.lanes, std::min(p.per_group, p.full - b0), 0};
  }
  return {p.full * p.lanes, 0, p.tail};
}

// What every group of one winograd4_correlate call reads.
struct Winograd4Forward {
  Conv2dGeometry cg;  // the output frame (winograd_frame)
  Winograd4Grid g;
  Winograd4Span sp;
  Winograd4Plan plan;
  const float* in;
  const float* Up;     // U packed for gemm_nn, usz floats per xi
  const int64_t* off;  // Vt's row offsets
  int64_t usz;
  const float* bias;  // may be null
  Activation act;
  bool pool2x2;
  float* out;
  float* saved;                          // may be null
  int64_t Po, Qo, out_image, out_plane;  // the stored outputs (pooled or not)
  int inner;                             // threads inside each GEMM
};

// Images of block b of a group from n0 that are real (the rest of a last block: zero images).
template <class V>
int64_t winograd4_block_lanes(int64_t N, int64_t n0, int64_t b) {
  return std::min<int64_t>(V::W, N - n0 - b * V::W);
}

// Input phase, left-over images: each image copied into its own padded planes (C of them, from
// xp, zeroed by the caller), then per vector of columns each lane's patch gathered (lanes past
// the tiles repeat the last one: junk columns, never stored) and transformed into Vt.
// buf: one gathered patch per lane (36, L).
template <class V>
void winograd4_input_leftover(const Winograd4Forward& s, const Winograd4Group& gr, int64_t ncols,
                              float* xp, float* buf, float* Vt) {
  using R = typename V::R;
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const Winograd4Span& sp = s.sp;
  const int64_t C = s.cg.C, H = s.cg.H, W = s.cg.W, top = s.cg.pad_top, left = s.cg.pad_left;
  const int64_t T = g.T, plane = g.Hp * g.Wp, ld = s.plan.ld;
  for (int64_t i = 0; i < gr.count; ++i) {
    const float* image = s.in + (gr.n0 + i) * C * H * W;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = sp.y0; y < sp.y1; ++y) {
        std::memcpy(xp + (i * C + c) * plane + (y + top) * g.Wp + sp.x0 + left,
                    image + (c * H + y) * W + sp.x0, (sp.x1 - sp.x0) * sizeof(float));
      }
  }
  for (int64_t u = 0; u < ncols; u += L) {
    // Lane l's patch in channel 0 (its tile's image and corner).
    const int lanes = static_cast<int>(std::clamp<int64_t>(gr.count * T - u, 1, L));
    int64_t at[L];
    for (int l = 0; l < L; ++l) {
      const int64_t col = u + std::min(l, lanes - 1), i = col / T, t = col % T;
      at[l] = i * C * plane + 4 * (t / g.TW) * g.Wp + 4 * (t % g.TW);
    }
    for (int64_t c = 0; c < C; ++c) {
      // Patch row r of every lane: L floats from its corner (6 used; the rest reach at most
      // into the next row, or the slack after the planes), transposed into buf's rows.
      for (int r = 0; r < 6; ++r) {
        R v[L];
        for (int l = 0; l < L; ++l) v[l] = V::load(xp + c * plane + at[l] + r * g.Wp);
        V::transpose(v);
        for (int q = 0; q < 6; ++q) V::store(buf + (6 * r + q) * L, v[q]);
      }
      winograd4_input_tile<V>(buf, 6 * L, L, Vt + c * ld + u, C * ld);
    }
  }
}

// The outputs of V::W columns' tiles (m: their first column in output channel k's row of xi 0,
// rows of xi xs apart): y[side r + s] = act(output + bias), side 4, or 2 after the fused 2x2 max
// pool; by the same operations in both layouts.
template <class V>
inline void winograd4_tile_outputs(const float* m, int64_t xs, const typename V::R& vb,
                                   Activation act, bool pool2x2, typename V::R* y) {
  winograd4_output_tile<V>(m, xs, y);
  if (pool2x2) {
    y[0] = window_max<V>(y[0], y[1], y[4], y[5]);
    y[1] = window_max<V>(y[2], y[3], y[6], y[7]);
    y[2] = window_max<V>(y[8], y[9], y[12], y[13]);
    y[3] = window_max<V>(y[10], y[11], y[14], y[15]);
  }
  const int side = pool2x2 ? 2 : 4;
  for (int e = 0; e < side * side; ++e) {
    y[e] = V::add(y[e], vb);
    y[e] = conv_act<V>(act, y[e]);
  }
}

// Output phase, whole blocks: the outputs go as vectors into stage, an image of (K, Po, Qo)
// vectors of L lanes, then L x L transposes store L consecutive floats of each image at a time
// (a partial block's through pad, its real images' outputs only).
template <class V>
void winograd4_output_blocks(const Winograd4Forward& s, const Winograd4Group& gr, const float* Mt,
                             float* stage, float* pad) {
  using R = typename V::R;
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const int64_t K = s.cg.K, T = g.T, ld = s.plan.ld, Po = s.Po, Qo = s.Qo;
  const int side = s.pool2x2 ? 2 : 4;  // outputs per tile side
  for (int64_t b = 0; b < gr.blocks; ++b) {
    for (int64_t k = 0; k < K; ++k) {
      const R vb = V::set1(s.bias ? s.bias[k] : 0.0f);
      float* sk = stage + k * s.out_plane * L;
      for (int64_t ty = 0; ty < g.TH; ++ty)
        for (int64_t tx = 0; tx < g.TW; ++tx) {
          R y[16];
          winograd4_tile_outputs<V>(Mt + k * ld + (b * T + ty * g.TW + tx) * L, K * ld, vb, s.act,
                                    s.pool2x2, y);
          const int64_t p0 = side * ty, q0 = side * tx;
          const int rows = static_cast<int>(std::min<int64_t>(side, Po - p0));
          const int cols = static_cast<int>(std::min<int64_t>(side, Qo - q0));
          for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c)
              V::store(sk + ((p0 + r) * Qo + q0 + c) * L, y[r * side + c]);
        }
    }
    float* ob = s.out + (gr.n0 + b * L) * s.out_image;
    const int64_t lanes = winograd4_block_lanes<V>(s.cg.N, gr.n0, b);
    if (lanes == L) {
      transpose_out<V>(stage, s.out_image, ob, s.out_image);
    } else {  // the images' outputs only
      transpose_out<V>(stage, s.out_image, pad, s.out_image);
      std::memcpy(ob, pad, lanes * s.out_image * sizeof(float));
    }
  }
}

// Output phase, left-over images (lanes over their tiles): each lane's whole tile (side x side,
// junk included: no per-lane bounds) goes into the image's padded planes (K, side TH, side TW)
// in stage, whose (Po, Qo) corner is then copied to out.
template <class V>
void winograd4_output_leftover(const Winograd4Forward& s, const Winograd4Group& gr, const float* Mt,
                               float* stage) {
  using R = typename V::R;
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const int64_t K = s.cg.K, T = g.T, ld = s.plan.ld, Po = s.Po, Qo = s.Qo;
  const int side = s.pool2x2 ? 2 : 4;
  const int64_t Ps = side * g.TH, Qs = side * g.TW, splane = Ps * Qs;
  const int64_t used = gr.count * T;
  alignas(64) float vals[16 * L];
  for (int64_t u = 0; u < used; u += L) {
    const int lanes = static_cast<int>(std::min<int64_t>(L, used - u));
    int64_t at[L];  // lane l's first output in channel 0 of stage
    for (int l = 0; l < lanes; ++l) {
      const int64_t t = (u + l) % T;
      at[l] = (u + l) / T * K * splane + side * (t / g.TW) * Qs + side * (t % g.TW);
    }
    for (int64_t k = 0; k < K; ++k) {
      R y[16];
      winograd4_tile_outputs<V>(Mt + k * ld + u, K * ld, V::set1(s.bias ? s.bias[k] : 0.0f), s.act,
                                s.pool2x2, y);
      for (int e = 0; e < side * side; ++e) V::store(vals + e * L, y[e]);
      for (int l = 0; l < lanes; ++l) {
        float* o = stage + at[l] + k * splane;
        if (s.pool2x2) {
          o[0] = vals[l], o[1] = vals[L + l], o[Qs] = vals[2 * L + l], o[Qs + 1] = vals[3 * L + l];
        } else {
          for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) o[r * Qs + c] = vals[(4 * r + c) * L + l];
        }
      }
    }
  }
  for (int64_t i = 0; i < gr.count; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < Po; ++r) {
        std::memcpy(s.out + (gr.n0 + i) * s.out_image + k * s.out_plane + r * Qo,
                    stage + (i * K + k) * splane + r * Qs, Qo * sizeof(float));
      }
}

// Group j of a forward: the input transform (blocks of image lanes, or the left-over images with
// the lanes over their tiles), the 36 GEMMs M = U V, the output transform.
template <class V, class Cfg>
void winograd4_forward_group(const Winograd4Forward& s, int64_t j) {
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const int64_t C = s.cg.C, K = s.cg.K, T = g.T, plane = g.Hp * g.Wp, ld = s.plan.ld;
  const int64_t image = C * s.cg.H * s.cg.W;
  const Winograd4Group gr = winograd4_group(s.plan, j);
  const int64_t ncols = gr.blocks > 0 ? gr.blocks * T * L : (gr.count * T + L - 1) / L * L;
  // (The left-over images' planes: L floats of slack for the last patch's vector loads.)
  const int64_t planes = gr.blocks > 0 ? L * plane : gr.count * C * plane + L;
  // stage: a block's outputs (out_image vectors), or the left-over images' padded outputs.
  const int64_t staged = gr.blocks > 0 ? s.out_image * L : gr.count * K * 16 * T;
  // A partial block's images padded to V::W (its input, then its outputs).
  const bool partial = gr.blocks > 0 && gr.n0 + gr.blocks * L > s.cg.N;
  const int64_t pad_floats = partial ? L * std::max(image, s.out_image) : 0;
  float* work =
      scratch(Scratch::a, (s.saved ? 0 : 36 * C * ld) + planes + 36 * L + staged + pad_floats);
  float* Vt = s.saved ? s.saved + j * 36 * C * ld : work;
  float* xp = work + (s.saved ? 0 : 36 * C * ld);
  float* buf = xp + planes;  // one gathered patch per lane (36, L)
  float* Mt = scratch(Scratch::b, 36 * K * ld);
  std::memset(xp, 0, planes * sizeof(float));
  float* stage = buf + 36 * L;
  float* pad = stage + staged;
  if (gr.blocks > 0) {
    for (int64_t b = 0; b < gr.blocks; ++b) {
      const float* images = s.in + (gr.n0 + b * L) * image;
      const int64_t lanes = winograd4_block_lanes<V>(s.cg.N, gr.n0, b);
      if (lanes < L) images = winograd4_padded_block<V>(images, lanes, image, pad);
      winograd4_input_block<V>(g, s.sp, s.cg, images, xp, Vt + b * T * L, ld);
    }
  } else {
    winograd4_input_leftover<V>(s, gr, ncols, xp, buf, Vt);
  }
  winograd_gemms_nn<V, Cfg>(36, K, C, ncols, s.Up, s.usz, Vt, ld, s.off, Mt, s.inner);
  if (gr.blocks > 0) {
    winograd4_output_blocks<V>(s, gr, Mt, stage, pad);
  } else {
    winograd4_output_leftover<V>(s, gr, Mt, stage);
  }
}

// out (N, K, P, Q) = act(correlation of in (N, C, H, W), placed at (pad_top, pad_left) of the
// output frame, with w (K, C, 3, 3) + bias), the shapes those of cg (a 3x3 stride-1 layer); with
// pool2x2, out is (N, K, P / 2, Q / 2), its 2x2 max pool. threads: as many as the work is worth.
// group_bytes: Vt per group (0: winograd_group_bytes(C); tests shrink it). saved (may be null):
// keeps every block's Vt there, block j at j * winograd4_vt_floats (see winograd4_saved_floats),
// for winograd4_backward; each group is then one block, and images past the whole blocks make a
// last block padded with zero images (winograd4_trains) instead of running with the lanes over
// their tiles: the same floats either way, in the layout the backward reads.
template <class V, class Cfg>
void winograd4_correlate(const Conv2dGeometry& layer, const float* in, const float* w,
                         const float* bias, float* out, Activation act, bool pool2x2, int threads,
                         int64_t group_bytes = 0, float* saved = nullptr) {
  Winograd4Forward s;
  s.cg = winograd_frame(layer, pool2x2);
  const int64_t N = s.cg.N, C = s.cg.C, K = s.cg.K, P = s.cg.P, Q = s.cg.Q;
  if (N == 0 || K == 0 || P == 0 || Q == 0) return;
  if (group_bytes == 0) group_bytes = winograd_group_bytes(C);
  if (saved) group_bytes = 1;
  s.g = make_winograd4_grid(P, Q);
  s.plan = make_winograd4_plan<V>(N, C, s.g.T, group_bytes, saved != nullptr);

  s.usz = packed_nn_a_size<Cfg>(K, C);
  float* shared = scratch(Scratch::c, 2 * C + (winograd_caches(K, C) ? 0 : 36 * s.usz));
  auto* off = reinterpret_cast<int64_t*>(shared);
  for (int64_t c = 0; c < C; ++c) off[c] = c * s.plan.ld;
  s.off = off;
  s.Up = winograd4_weights<Cfg>(w, K, C, false, s.usz, shared + 2 * C);

  int outer;
  split_threads(s.plan.G, 2.0 * N * K * C * 36 * s.g.T, threads, &outer, &s.inner);
  s.Po = pool2x2 ? P / 2 : P, s.Qo = pool2x2 ? Q / 2 : Q;
  s.out_image = K * s.Po * s.Qo, s.out_plane = s.Po * s.Qo;
  s.sp = winograd4_span(s.g, s.cg.H, s.cg.W, s.cg.pad_top, s.cg.pad_left);
  s.in = in, s.bias = bias, s.act = act, s.pool2x2 = pool2x2, s.out = out, s.saved = saved;
  parallel_for(s.plan.G, outer, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) winograd4_forward_group<V, Cfg>(s, j);
  });
}

// ---- training: the backward pass ----------------------------------------------------------
// For Y = A^T [sum_c U_c (.) V_c] A per tile (A = (A^T)^T, 6x4): dM = A dY A^T; the weight
// gradient dU_xi (K, C) = sum over tiles dM_xi V_xi^T (36 NT GEMMs), dw = G^T dU G; the input
// gradient dV_xi (C, tiles) = U_xi^T dM_xi (36 NN GEMMs) and each tile's 6x6 patch gradient
// B dV B^T added where patches overlap (two rows, two columns). The forward's layout: lanes over
// V::W images, one block per group, the last one padded with zero images where N is not a
// multiple of V::W.

// (A y)[0..5] of one column y0..y3 of dY, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
// 0 1 -1 8 -8 1].
template <class V>
inline void winograd4_a(const typename V::R* y, typename V::R* r) {
  using R = typename V::R;
  const R a02 = V::add(y[0], y[2]), a13 = V::add(y[1], y[3]);
  const R b = V::fmadd(V::set1(4.0f), y[2], y[0]);
  const R c = V::fmadd(V::set1(8.0f), y[3], V::add(y[1], y[1]));
  r[0] = y[0];
  r[1] = V::add(a02, a13);
  r[2] = V::sub(a02, a13);
  r[3] = V::add(b, c);
  r[4] = V::sub(b, c);
  r[5] = y[3];
}

// (B v)[0..5] of one column v0..v5 (B = (B^T)^T).
template <class V>
inline void winograd4_b(const typename V::R* v, typename V::R* r) {
  using R = typename V::R;
  const R zero = V::zero(), c4 = V::set1(4.0f), cm4 = V::set1(-4.0f), cm5 = V::set1(-5.0f),
          cm2 = V::set1(-2.0f);
  const R s12 = V::add(v[1], v[2]), d12 = V::sub(v[2], v[1]);
  const R s34 = V::add(v[3], v[4]), d34 = V::sub(v[4], v[3]);
  r[0] = V::fmadd(c4, v[0], zero);
  r[1] = V::fmadd(c4, V::add(d12, v[5]), V::add(d34, d34));
  r[2] = V::fmadd(cm5, v[0], V::fmadd(cm4, s12, V::sub(zero, s34)));
  r[3] = V::fmadd(cm2, d34, V::fmadd(cm5, v[5], V::sub(zero, d12)));
  r[4] = V::add(V::add(v[0], s12), s34);
  r[5] = v[5];
}

// dw[k, c] (3x3) = G^T dU[k, c] G for dU (36, K, C), in double.
inline void winograd4_weight_grad_from_u(const float* dU, int64_t K, int64_t C, float* dw) {
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  const int64_t xs = K * C;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* u = dU + k * C + c;
      double t[3][6];  // G^T dU
      for (int r = 0; r < 3; ++r)
        for (int j = 0; j < 6; ++j) {
          double a = 0;
          for (int i = 0; i < 6; ++i) a += G[i][r] * u[(6 * i + j) * xs];
          t[r][j] = a;
        }
      float* o = dw + (k * C + c) * 9;
      for (int r = 0; r < 3; ++r)
        for (int q = 0; q < 3; ++q) {
          double a = 0;
          for (int j = 0; j < 6; ++j) a += t[r][j] * G[j][q];
          o[r * 3 + q] = static_cast<float>(a);
        }
    }
}

// What every block of one winograd4_backward call reads.
struct Winograd4Backward {
  Conv2dGeometry cg;
  Winograd4Grid g;
  Winograd4Span sp;
  const float* x;  // null when saved or when dw is not wanted
  const float* dy;
  const float* saved;  // the forward's Vt of every block, or null
  const float* Ut;     // U^T packed for gemm_nn (dx wanted)
  const int64_t* off;  // GEMM row offsets
  float* dx;           // null: not wanted
  bool want_dw, want_db;
  bool dx_whole;  // every input is under some output (no dx to zero)
  int64_t usz, ld, vsz;
  int64_t Py, Qy;  // dy's interleaved plane: the tiles' outputs
  int inner;       // threads inside each GEMM
};

// One thread's buffers for winograd4_backward.
struct Winograd4BackwardBuffers {
  float* work;  // Vt (when transformed here)
  float* dV;
  float* xp;      // x's or dx's interleaved plane
  float* yp;      // dy's interleaved plane
  float* pad_x;   // a partial block's x, then its dx, padded to V::W images
  float* pad_dy;  // a partial block's dy padded to V::W images
  float* Dt;
  float* dU;  // this thread's dU (36, K, C) (dw wanted)
  float* db;  // this thread's db (K)
};

inline bool winograd4_transforms_x(const Winograd4Backward& s) {
  return s.want_dw && !s.saved;
}

// The thread's buffers, its partial sums (`part` floats from `part_sums`) zeroed.
template <class V>
Winograd4BackwardBuffers winograd4_backward_buffers(const Winograd4Backward& s, float* part_sums,
                                                    int64_t part) {
  constexpr int L = V::W;
  const int64_t C = s.cg.C, K = s.cg.K, image = C * s.cg.H * s.cg.W, PQ = s.cg.P * s.cg.Q;
  const int64_t plane = s.g.Hp * s.g.Wp;
  const bool transform_x = winograd4_transforms_x(s);
  Winograd4BackwardBuffers b;
  b.dU = part_sums;
  b.db = part_sums + (s.want_dw ? 36 * K * C : 0);
  std::memset(part_sums, 0, part * sizeof(float));
  const int64_t pads = s.cg.N % L ? L * (image + K * PQ) : 0;
  b.work = scratch(Scratch::a, (transform_x ? s.vsz : 0) + (s.dx ? s.vsz : 0) + L * plane +
                                   L * s.Py * s.Qy + pads);
  b.dV = b.work + (transform_x ? s.vsz : 0);
  b.xp = b.dV + (s.dx ? s.vsz : 0);
  b.yp = b.xp + L * plane;
  b.pad_x = b.yp + L * s.Py * s.Qy;
  b.pad_dy = b.pad_x + L * image;
  b.Dt = scratch(Scratch::b, 36 * K * s.ld);
  return b;
}

// Transform phase for dy: Dt = A dY A^T of a block's V::W images (dyb: their dy, consecutive),
// from dy's interleaved plane (zeros past P, Q: the junk outputs); db (may be null) += the
// block's dy per channel.
template <class V>
void winograd4_output_grad(const Winograd4Backward& s, const float* dyb, float* yp, float* Dt,
                           float* db) {
  using R = typename V::R;
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const int64_t K = s.cg.K, P = s.cg.P, Q = s.cg.Q, PQ = P * Q, T = g.T, ld = s.ld;
  const int64_t Py = s.Py, Qy = s.Qy;
  std::memset(yp, 0, L * Py * Qy * sizeof(float));
  for (int64_t k = 0; k < K; ++k) {
    const float* dyk = dyb + k * PQ;
    for (int64_t p = 0; p < P; ++p) transpose_in<V>(dyk + p * Q, K * PQ, 0, Q, yp + p * Qy * L);
    if (db) db[k] += V::hsum(sum_vectors<V>(yp, Py * Qy));  // the block's dy of k
    for (int64_t t = 0; t < T; ++t) {
      const float* d = yp + (4 * (t / g.TW) * Qy + 4 * (t % g.TW)) * L;
      R cols[4][6];  // A applied to each column s of the tile's dY
      for (int c = 0; c < 4; ++c) {
        R col[4];
        for (int r = 0; r < 4; ++r) col[r] = V::load(d + (r * Qy + c) * L);
        winograd4_a<V>(col, cols[c]);
      }
      float* o = Dt + k * ld + t * L;
      for (int i = 0; i < 6; ++i) {
        const R row[4] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i]};
        R m[6];
        winograd4_a<V>(row, m);
        for (int j = 0; j < 6; ++j) V::store(o + (6 * i + j) * K * ld, m[j]);
      }
    }
  }
}

// Output phase of the input gradient: per channel, the patch gradients B dV B^T of every tile
// added into the interleaved plane xp, then transposed out into dxb (the block's V::W images).
template <class V>
void winograd4_input_grad(const Winograd4Backward& s, const float* dV, float* xp, float* dxb) {
  using R = typename V::R;
  constexpr int L = V::W;
  const Winograd4Grid& g = s.g;
  const Winograd4Span& sp = s.sp;
  const int64_t C = s.cg.C, H = s.cg.H, W = s.cg.W, top = s.cg.pad_top, left = s.cg.pad_left;
  const int64_t plane = g.Hp * g.Wp, image = C * H * W, ld = s.ld;
  for (int64_t c = 0; c < C; ++c) {
    std::memset(xp, 0, L * plane * sizeof(float));
    for (int64_t ty = 0; ty < g.TH; ++ty)
      for (int64_t tx = 0; tx < g.TW; ++tx) {
        const float* m = dV + c * ld + (ty * g.TW + tx) * L;
        R cols[6][6];  // B applied to each column j of dV
        for (int j = 0; j < 6; ++j) {
          R col[6];
          for (int i = 0; i < 6; ++i) col[i] = V::load(m + (6 * i + j) * C * ld);
          winograd4_b<V>(col, cols[j]);
        }
        float* o = xp + (4 * ty * g.Wp + 4 * tx) * L;
        for (int i = 0; i < 6; ++i) {
          const R row[6] = {cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i]};
          R dd[6];
          winograd4_b<V>(row, dd);
          for (int j = 0; j < 6; ++j) {
            float* q = o + (i * g.Wp + j) * L;
            V::store(q, V::add(V::load(q), dd[j]));
          }
        }
      }
    for (int64_t y = sp.y0; y < sp.y1; ++y) {
      transpose_out<V>(xp + ((y + top) * g.Wp + sp.x0 + left) * L, sp.x1 - sp.x0,
                       dxb + c * H * W + y * W + sp.x0, image);
    }
  }
}

// Block `blk` of a backward (images blk V::W on, a last partial block padded with zero images):
// the transforms, the weight gradient's 36 NT GEMMs dU += Dt Vt^T, the input gradient's 36 NN
// GEMMs dV = U^T Dt and their adjoint.
template <class V, class Cfg>
void winograd4_backward_block(const Winograd4Backward& s, const Winograd4BackwardBuffers& b,
                              int64_t blk) {
  constexpr int L = V::W;
  const int64_t N = s.cg.N, C = s.cg.C, K = s.cg.K, image = C * s.cg.H * s.cg.W;
  const int64_t n0 = blk * L, lanes = std::min<int64_t>(L, N - n0), ncols = s.g.T * L;
  const float* Vt = s.saved ? s.saved + blk * s.vsz : b.work;
  if (winograd4_transforms_x(s)) {
    std::memset(b.xp, 0, L * s.g.Hp * s.g.Wp * sizeof(float));
    const float* images = s.x + n0 * image;
    if (lanes < L) images = winograd4_padded_block<V>(images, lanes, image, b.pad_x);
    winograd4_input_block<V>(s.g, s.sp, s.cg, images, b.xp, b.work, s.ld);
  }
  const int64_t ny = K * s.cg.P * s.cg.Q;
  const float* dyb = s.dy + n0 * ny;
  if (lanes < L) dyb = winograd4_padded_block<V>(dyb, lanes, ny, b.pad_dy);
  winograd4_output_grad<V>(s, dyb, b.yp, b.Dt, s.want_db ? b.db : nullptr);
  if (s.want_dw) winograd_gemms_nt<V, Cfg>(36, K, C, ncols, b.Dt, Vt, s.ld, s.off, b.dU, s.inner);
  if (!s.dx) return;
  winograd_gemms_nn<V, Cfg>(36, C, K, ncols, s.Ut, s.usz, b.Dt, s.ld, s.off, b.dV, s.inner);
  float* dxb = lanes < L ? b.pad_x : s.dx + n0 * image;
  if (!s.dx_whole) std::memset(dxb, 0, L * image * sizeof(float));  // inputs no output reads
  winograd4_input_grad<V>(s, b.dV, b.xp, dxb);
  if (lanes < L) std::memcpy(s.dx + n0 * image, dxb, lanes * image * sizeof(float));
}

// The backward pass of a stride-1 3x3 layer of geometry cg over blocks of V::W images, the last
// one padded with zero images (x and dy zero there: exact zeros added to dw and db; their dx is
// not stored): x (N, C, H, W) at (pad_top, pad_left) of the output frame, w (K, C, 3, 3), dy (N,
// K, P, Q). dx (N, C, H, W; null: not wanted), dw (K, C, 3, 3; null: not wanted), db (K; may be
// null). saved (may be null): the forward's Vt of every block (winograd4_correlate's `saved`); x
// is then not read. Each thread sums its blocks into its own dU and db, then the threads' sums
// are added in thread order: deterministic for a thread count. dx does not depend on the thread
// count.
template <class V, class Cfg>
void winograd4_backward(const Conv2dGeometry& cg, const float* x, const float* w, const float* dy,
                        float* dx, float* dw, float* db, int threads,
                        const float* saved = nullptr) {
  constexpr int L = V::W;
  const int64_t N = cg.N, C = cg.C, K = cg.K, KC = K * C;
  Winograd4Backward s;
  s.cg = cg;
  s.g = make_winograd4_grid(cg.P, cg.Q);
  const int64_t blocks = winograd4_padded<V>(N) / L;
  s.ld = winograd4_ld<V>(s.g.T * L), s.vsz = 36 * C * s.ld;
  s.Py = 4 * s.g.TH, s.Qy = 4 * s.g.TW;
  int outer;
  split_threads(blocks, 2.0 * N * K * C * 36 * s.g.T * ((dx != nullptr) + (dw != nullptr)), threads,
                &outer, &s.inner);
  // Shared: GEMM row offsets; U^T packed for the input gradient; per thread a dU and a db.
  s.usz = dx ? packed_nn_a_size<Cfg>(C, K) : 0;
  const bool cached = winograd_caches(C, K);
  const int64_t noff = std::max(C, K), part = (dw ? 36 * KC : 0) + K;
  const int64_t ut_floats = cached || !dx ? 0 : 36 * s.usz;
  float* shared = scratch(Scratch::c, 2 * noff + ut_floats + outer * part);
  auto* off = reinterpret_cast<int64_t*>(shared);
  float* parts = shared + 2 * noff + ut_floats;
  for (int64_t i = 0; i < noff; ++i) off[i] = i * s.ld;
  s.off = off;
  // U^T: the weights read as w'[c, k] = w[k, c], transformed as the forward's.
  s.Ut = dx ? winograd4_weights<Cfg>(w, C, K, true, s.usz, shared + 2 * noff) : nullptr;
  s.sp = winograd4_span(s.g, cg.H, cg.W, cg.pad_top, cg.pad_left);
  s.dx_whole = s.sp.y0 == 0 && s.sp.y1 == cg.H && s.sp.x0 == 0 && s.sp.x1 == cg.W;
  s.x = x, s.dy = dy, s.saved = saved, s.dx = dx;
  s.want_dw = dw != nullptr, s.want_db = db != nullptr;
  int used = 1;
  run_parallel(outer, [&](int tid, int nt) {
    if (tid == 0) used = nt;
    const Winograd4BackwardBuffers b = winograd4_backward_buffers<V>(s, parts + tid * part, part);
    int64_t b0, b1;
    split_range(blocks, nt, tid, &b0, &b1);
    for (int64_t blk = b0; blk < b1; ++blk) winograd4_backward_block<V, Cfg>(s, b, blk);
  });
  // Reduce phase: the threads' sums in a fixed order, then dw from dU.
  winograd_sum_parts(parts, part, used);
  if (dw) winograd4_weight_grad_from_u(parts, K, C, dw);
  if (db) std::memcpy(db, parts + (dw ? 36 * KC : 0), K * sizeof(float));
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
