// Winograd F(4x4, 3x3) forward pass for small images, with the vector lanes running over images.
//
// Each 4x4 block of outputs (a "tile") comes from the 6x6 input patch d under it:
//   Y = A^T [ sum_c (G w_kc G^T) (.) (B^T d_c B) ] A
// so a layer is 36 GEMMs, one per position xi = 6 i + j of the transformed patch, of 36 K C
// multiply-adds per tile where F(2x2, 3x3) (winograd_impl.h) needs 64 for the same 16 outputs and
// a direct correlation 144. Lavin & Gray's matrices (points 0, +-1, +-2):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// The larger constants cost accuracy: the error is about ten times F(2x2)'s, still within the
// conv tests' tolerance (in units of the sum of |terms|) for the channel counts used here.
//
// Why the lanes run over images: a small layer has few tiles per row (the lecture net's conv 2:
// 11x11 outputs, 3x3 tiles), so transforms vectorised along a tile row (as F(2x2)'s are) would
// leave most lanes idle. Here a vector holds one tile position of V::W images: the transforms are
// plain vertical adds with no shuffles and every lane busy. The images are first copied into an
// interleaved padded plane per channel, (Hp, Wp, V::W) floats, the one transpose of the pass.
// Images left over after the whole blocks of V::W go through the same arithmetic with the lanes
// over their tiles, each lane's patch gathered from the image's padded plane.
//
// A column of Vt (36, C, ld) and Mt (36, K, ld) is one tile of one image, and every output depends
// only on its own column, computed by the same operations in either layout: the same floats
// whatever the batch size, the grouping or the thread count. Only inference uses this path
// (training keeps F(2x2): its forward saves the transform for the backward).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/winograd_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy (see conv2d_impl.h).
namespace {

// A block's transformed input (36 C tiles-per-image V::W floats) must stay below this: beyond it
// (large images) a block no longer fits the caches and F(2x2), banded along tile rows, takes over.
// For 4-byte floats the lecture net's conv 2 needs 259 KB with 8 lanes (518 KB with 16).
constexpr int64_t kWinograd4MaxBlockBytes = 1 << 20;

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

// U_xi (K, C) = (G w[k, c] G^T)[xi] for the 36 xi, in gemm_nn's packed layout (see
// winograd_weights_packed), one block of usz floats per xi. Computed in double: the sixths and
// twenty-fourths are then rounded once.
template <class Cfg>
void winograd4_weights_packed(const float* w, int64_t K, int64_t C, float* Up, int64_t usz) {
  const int64_t mr = choose_nn_shape<Cfg>(K).mr, Kp = (K + mr - 1) / mr * mr;
  for (int xi = 0; xi < 36; ++xi)
    for (int64_t k = K; k < Kp; ++k)
      for (int64_t c = 0; c < C; ++c) Up[xi * usz + k / mr * mr * C + c * mr + k % mr] = 0.0f;
  const auto g_times = [](double a, double b, double c, double* o) {  // G (a, b, c)^T
    o[0] = a / 4;
    o[1] = -(a + b + c) / 6;
    o[2] = -(a - b + c) / 6;
    o[3] = a / 24 + b / 12 + c / 6;
    o[4] = a / 24 - b / 12 + c / 6;
    o[5] = c;
  };
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* g = w + (k * C + c) * 9;
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
}

template <class Cfg>
const float* winograd4_weights_cached(const float* w, int64_t K, int64_t C, int64_t usz) {
  return winograd_weights_cached_as(w, K, C, false, 4, 36 * usz, [&](float* up) {
    winograd4_weights_packed<Cfg>(w, K, C, up, usz);
  });
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

// One group of columns: `blocks` whole blocks of V::W images from image n0 (column
// (b T + t) V::W + lane: tile t of image n0 + b V::W + lane), or (blocks == 0) `count` images
// from n0 with the lanes over their tiles (column i T + t).
struct Winograd4Group {
  int64_t n0, blocks, count;
};

// out (N, K, P, Q) = act(correlation of in (N, C, H, W), placed at (top, left) of the output
// frame, with w (K, C, 3, 3) + bias); with pool2x2, out is (N, K, P / 2, Q / 2), its 2x2 max pool
// (P and Q must then be even). threads: as many as the work is worth. group_bytes: Vt per group
// (0: winograd_group_bytes(C); tests shrink it).
template <class V, class Cfg>
void winograd4_correlate(const float* in, int64_t N, int64_t C, int64_t H, int64_t W, int64_t top,
                         int64_t left, const float* w, int64_t K, int64_t P, int64_t Q,
                         const float* bias, Activation act, float* out, bool pool2x2, int threads,
                         int64_t group_bytes = 0) {
  using R = typename V::R;
  constexpr int L = V::W;
  if (N == 0 || K == 0 || P == 0 || Q == 0) return;
  if (group_bytes == 0) group_bytes = winograd_group_bytes(C);
  const Winograd4Grid g = make_winograd4_grid(P, Q);
  const int64_t T = g.T, plane = g.Hp * g.Wp;
  const int64_t full = N / L, tail = N % L;
  const int64_t per_group =
      std::clamp<int64_t>(group_bytes / (36 * 4 * C * T * L), 1, std::max<int64_t>(full, 1));
  const int64_t full_groups = (full + per_group - 1) / per_group;
  const int64_t G = full_groups + (tail > 0);
  const auto group_of = [&](int64_t j) -> Winograd4Group {
    if (j < full_groups) {
      const int64_t b0 = j * per_group;
      return {b0 * L, std::min(per_group, full - b0), 0};
    }
    return {full * L, 0, tail};
  };
  // Row stride of Vt and Mt: the widest group, in whole vectors, made an odd number of vectors
  // (rows a multiple of 4 KB apart share the L1 cache's sets).
  int64_t ld = std::max(std::min(per_group, full) * T * L, (tail * T + L - 1) / L * L);
  if ((ld / L) % 2 == 0) ld += L;

  const int64_t usz = packed_nn_a_size<Cfg>(K, C);
  const bool cached = K * C <= kWinogradCacheMaxKC;
  float* shared = scratch(Scratch::c, 2 * C + (cached ? 0 : 36 * usz));
  auto* off = reinterpret_cast<int64_t*>(shared);
  for (int64_t c = 0; c < C; ++c) off[c] = c * ld;
  const float* Up = shared + 2 * C;
  if (cached) {
    Up = winograd4_weights_cached<Cfg>(w, K, C, usz);
  } else {
    winograd4_weights_packed<Cfg>(w, K, C, shared + 2 * C, usz);
  }

  int outer, inner;
  split_threads(G, 2.0 * N * K * C * 36 * T, threads, &outer, &inner);
  const int64_t Po = pool2x2 ? P / 2 : P, Qo = pool2x2 ? Q / 2 : Q;
  const int64_t out_image = K * Po * Qo, out_plane = Po * Qo;
  // Rows and columns of an image's input that land inside its padded plane.
  const int64_t y0 = std::clamp<int64_t>(-top, 0, H), y1 = std::clamp<int64_t>(g.Hp - top, y0, H);
  const int64_t x0 = std::clamp<int64_t>(-left, 0, W), x1 = std::clamp<int64_t>(g.Wp - left, x0, W);

  const auto run_group = [&](int64_t j) {
    const Winograd4Group gr = group_of(j);
    const int64_t ncols = gr.blocks > 0 ? gr.blocks * T * L : (gr.count * T + L - 1) / L * L;
    // (The left-over images' planes: L floats of slack for the last patch's vector loads.)
    const int64_t planes = gr.blocks > 0 ? L * plane : gr.count * C * plane + L;
    // stage: a block's outputs (out_image vectors), or the left-over images' padded outputs.
    const int64_t staged = gr.blocks > 0 ? out_image * L : gr.count * K * 16 * T;
    float* Vt = scratch(Scratch::a, 36 * C * ld + planes + 36 * L + staged);
    float* xp = Vt + 36 * C * ld;
    float* buf = xp + planes;  // one gathered patch per lane (36, L)
    float* Mt = scratch(Scratch::b, 36 * K * ld);
    std::memset(xp, 0, planes * sizeof(float));
    if (gr.blocks > 0) {
      for (int64_t b = 0; b < gr.blocks; ++b) {
        const float* images = in + (gr.n0 + b * L) * C * H * W;
        for (int64_t c = 0; c < C; ++c) {
          // The interleaved plane: input (y, x) of lane l at ((y + top) Wp + x + left) L + l.
          for (int64_t y = y0; y < y1; ++y) {
            const float* src = images + (c * H + y) * W;
            float* dst = xp + ((y + top) * g.Wp + left) * L;
            transpose_in<V>(src, C * H * W, x0, x1, dst);
          }
          float* vc = Vt + c * ld + b * T * L;
          for (int64_t ty = 0; ty < g.TH; ++ty)
            for (int64_t tx = 0; tx < g.TW; ++tx) {
              winograd4_input_tile<V>(xp + (4 * ty * g.Wp + 4 * tx) * L, g.Wp * L, L,
                                      vc + (ty * g.TW + tx) * L, C * ld);
            }
        }
      }
    } else {
      for (int64_t i = 0; i < gr.count; ++i) {
        const float* image = in + (gr.n0 + i) * C * H * W;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t y = y0; y < y1; ++y) {
            std::memcpy(xp + (i * C + c) * plane + (y + top) * g.Wp + x0 + left,
                        image + (c * H + y) * W + x0, (x1 - x0) * sizeof(float));
          }
      }
      for (int64_t u = 0; u < ncols; u += L) {
        // Lane l's patch in channel 0 (its tile's image and corner); lanes past the tiles read
        // zeros.
        // (lanes past the tiles repeat the last one: junk columns, never stored).
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
            for (int s = 0; s < 6; ++s) V::store(buf + (6 * r + s) * L, v[s]);
          }
          winograd4_input_tile<V>(buf, 6 * L, L, Vt + c * ld + u, C * ld);
        }
      }
    }
    for (int xi = 0; xi < 36; ++xi) {
      GemmNN gg;
      gg.M = K, gg.N = ncols, gg.J = C, gg.A = Up + xi * usz, gg.a_packed = true,
      gg.B = Vt + xi * C * ld, gg.boff = off, gg.C = Mt + xi * K * ld, gg.ldc = ld;
      gemm_nn<V, Cfg>(gg, inner);
    }
    // Output: per channel and vector of columns, the 16 outputs (or 4 pooled) of each lane's
    // tile, by the same operations in both layouts.
    const int side = pool2x2 ? 2 : 4;  // outputs per tile side
    const R zero = V::zero();
    const auto tile_outputs = [&](const float* m, const R& vb, R* y) {  // y[side r + s]
      winograd4_output_tile<V>(m, K * ld, y);
      if (pool2x2) {
        y[0] = window_max<V>(y[0], y[1], y[4], y[5]);
        y[1] = window_max<V>(y[2], y[3], y[6], y[7]);
        y[2] = window_max<V>(y[8], y[9], y[12], y[13]);
        y[3] = window_max<V>(y[10], y[11], y[14], y[15]);
      }
      for (int e = 0; e < side * side; ++e) {
        y[e] = V::add(y[e], vb);
        if (act == Activation::relu) y[e] = V::max(zero, y[e]);  // NaN stays NaN, as relu()
      }
    };
    if (gr.blocks > 0) {
      // Whole blocks: the outputs go as vectors into stage, an image of (K, Po, Qo) vectors of
      // L lanes, then L x L transposes store L consecutive floats of each image at a time.
      float* stage = buf + 36 * L;
      for (int64_t b = 0; b < gr.blocks; ++b) {
        for (int64_t k = 0; k < K; ++k) {
          const R vb = V::set1(bias ? bias[k] : 0.0f);
          float* sk = stage + k * out_plane * L;
          for (int64_t ty = 0; ty < g.TH; ++ty)
            for (int64_t tx = 0; tx < g.TW; ++tx) {
              R y[16];
              tile_outputs(Mt + k * ld + (b * T + ty * g.TW + tx) * L, vb, y);
              const int64_t p0 = side * ty, q0 = side * tx;
              const int rows = static_cast<int>(std::min<int64_t>(side, Po - p0));
              const int cols = static_cast<int>(std::min<int64_t>(side, Qo - q0));
              for (int r = 0; r < rows; ++r)
                for (int c = 0; c < cols; ++c)
                  V::store(sk + ((p0 + r) * Qo + q0 + c) * L, y[r * side + c]);
            }
        }
        transpose_out<V>(stage, out_image, out + (gr.n0 + b * L) * out_image, out_image);
      }
    } else {
      // Left-over images, lanes over their tiles: each lane's whole tile (side x side, junk
      // included: no per-lane bounds) goes into the image's padded planes (K, side TH, side TW)
      // in stage, whose (Po, Qo) corner is then copied to out.
      const int64_t Ps = side * g.TH, Qs = side * g.TW, splane = Ps * Qs;
      float* stage = buf + 36 * L;
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
          tile_outputs(Mt + k * ld + u, V::set1(bias ? bias[k] : 0.0f), y);
          for (int e = 0; e < side * side; ++e) V::store(vals + e * L, y[e]);
          for (int l = 0; l < lanes; ++l) {
            float* o = stage + at[l] + k * splane;
            if (pool2x2) {
              o[0] = vals[l], o[1] = vals[L + l], o[Qs] = vals[2 * L + l],
              o[Qs + 1] = vals[3 * L + l];
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
            std::memcpy(out + (gr.n0 + i) * out_image + k * out_plane + r * Qo,
                        stage + (i * K + k) * splane + r * Qs, Qo * sizeof(float));
          }
    }
  };
  parallel_for(G, outer, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) run_group(j);
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
