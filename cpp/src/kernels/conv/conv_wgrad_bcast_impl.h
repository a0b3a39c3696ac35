// The weight gradient of convolutions as a register-blocked GEMM with the vector lanes
// over the output channels and the reduction over the pixels:
//   dw^T[(c,r,s), k] = sum_n sum_{p,q} xpad_n[c, r*Wp + s + p*Wp + q] * dy_n^T[p*Q + q, k]
// over the output pixels (p, q), on the padded input laid out Wp = Q + S - 1 wide, so that every
// row (c, r, s) of the implicit column matrix is the padded image shifted by r*Wp + s: no im2col.
// dy^T is dy transposed to (pixel, K) with zeros in the lanes past K. An MR x NR block of dw^T
// stays in registers over a chunk of pixels: per pixel NR vector loads of dy^T, MR broadcasts of
// xpad and MR * NR FMAs, with no lane sums (gemm_nt's dot products along the pixels end every
// block with them, and the stacked im2col before it copied R*S times the input: 5x5 / 7x7 layers
// with 32 -> 64 channels on 16x16 ran at 12-18% of the FMA peak). The pixels run along output
// rows of Q: the S - 1 junk columns of the wide layout (zeros in dy^T) are not visited, 27% of
// the FMAs for 7x7 'same' on 16x16 and 20% for 5x5.
// Strides > 1: pixel m of a group of images reads every row at a tabled offset (image j's
// planes, p*sh*Wp + q*sw), one index load per pixel; the group fills a chunk of pixels, since
// strided layers have few (allconv_s2's 3x3 s2 layers: 64 and 16 a image), where the stacked
// im2col + dot-product GEMM ran at ~30% of the FMA peak (AVX2, batch 128, 1 thread).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_common_impl.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Register block: MR rows of dw^T (broadcasts) x NR vectors of output channels. 24 accumulators
// with 32 registers (AVX-512), 12 with 16 (AVX2; the portable build's 8-lane vectors likewise).
template <class V>
constexpr int wgrad_bcast_mr() {
  return V::W >= 16 ? 6 : 4;
}
template <class V>
constexpr int wgrad_bcast_nr() {
  return V::W >= 16 ? 4 : 3;
}
// 8-lane vectors, when K's vectors leave one past whole groups of 3 and split into pairs (K = 32:
// 4 vectors): 6 x 2 blocks instead. The 4 x 1 block of the last vector runs only 4 FMA chains,
// half the FMA rate at a latency of 4 cycles and 2 FMAs a cycle.
constexpr int kWgradBcastPairMR = 6, kWgradBcastPairNR = 2;

template <class V>
int wgrad_bcast_mr_for(int64_t nv) {
  if (V::W < 16 && nv % wgrad_bcast_nr<V>() == 1 && nv % kWgradBcastPairNR == 0) {
    return kWgradBcastPairMR;
  }
  return wgrad_bcast_mr<V>();
}

// Bytes of dy^T per chunk of pixels: it stays in L1 while every block of dw^T runs over it.
constexpr int64_t kWgradBcastChunkBytes = 24 * 1024;

struct WgradBcastPlan {
  int64_t Hp, Wp, plane;  // the padded image: Hp x Wp per channel, plane = Hp * Wp
  int64_t Q;              // output columns: a row of pixels
  bool strided;           // stride > 1: pixels through an offset table (off), images in groups
  int64_t images;         // images per group (1 at stride 1)
  const int64_t* off;     // strided: pixel m of a group reads row i of the column matrix at off[m]
  int64_t Kp;             // K rounded up to whole vectors (the row length of dy^T and dw^T)
  int64_t mr;             // rows per register block (wgrad_bcast_mr_for)
  int64_t CRSp;           // C*R*S rounded up to whole blocks of mr rows
  int64_t chunk;          // pixels per chunk
};

template <class V>
WgradBcastPlan make_wgrad_bcast_plan(const Conv2dGeometry& g) {
  WgradBcastPlan pl;
  // The rows and columns the taps read (past them, the input is cropped).
  pl.Wp = (g.Q - 1) * g.stride_w + g.S, pl.Hp = (g.P - 1) * g.stride_h + g.R;
  pl.plane = pl.Hp * pl.Wp;
  pl.Q = g.Q;
  pl.Kp = (g.K + V::W - 1) / V::W * V::W;
  const int64_t CRS = g.C * g.R * g.S;
  pl.mr = wgrad_bcast_mr_for<V>(pl.Kp / V::W);
  pl.CRSp = (CRS + pl.mr - 1) / pl.mr * pl.mr;
  pl.chunk = std::max<int64_t>(16, kWgradBcastChunkBytes / (4 * pl.Kp));
  pl.strided = g.stride_h != 1 || g.stride_w != 1;
  // Strided layers have few output pixels (allconv's 64 -> 128 layer: 16): a group of images
  // fills a chunk, so that each register block runs over a chunk's pixels, not a row of 4.
  const int64_t PQ = std::max<int64_t>(g.P * g.Q, 1);
  pl.images = pl.strided ? std::clamp<int64_t>(pl.chunk / PQ, 1, std::max<int64_t>(g.N, 1)) : 1;
  pl.off = nullptr;
  return pl;
}

// c[i][v] += sum_{m0 <= m < m1} a[i][p*Wp + q] * b[m * Kp + v * W .. + W) for an MR x NR block,
// where m = p*Q + q: pixels [m0, m1) as segments of output rows. kTable: a[i][pl.off[m]] instead
// (strides > 1, and groups of images).
template <class V, int MR, int NR, bool kTable>
void wgrad_bcast_block(const float* const* a, const float* b, const WgradBcastPlan& pl, int64_t m0,
                       int64_t m1, float* c) {
  using Reg = typename V::R;
  constexpr int W = V::W;
  const int64_t ld = pl.Kp;
  Reg acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) acc[i][v] = V::load(c + i * ld + v * W);
  if constexpr (kTable) {
    const float* ar[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) ar[i] = a[i];
    const float* bm = b + m0 * ld;
    for (int64_t m = m0; m < m1; ++m, bm += ld) {
      Reg bv[NR];
#pragma GCC unroll 4
      for (int v = 0; v < NR; ++v) bv[v] = V::load(bm + v * W);
      const int64_t o = pl.off[m];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const Reg ai = V::set1(ar[i][o]);
#pragma GCC unroll 4
        for (int v = 0; v < NR; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
      }
    }
  }
  for (int64_t m = m0; !kTable && m < m1;) {
    const int64_t p = m / pl.Q, q0 = m - p * pl.Q, len = std::min(m1 - m, pl.Q - q0);
    const float* ar[MR];  // the segment's start in each row of the column matrix
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) ar[i] = a[i] + p * pl.Wp + q0;
    const float* bm = b + m * ld;
    for (int64_t t = 0; t < len; ++t, bm += ld) {
      Reg bv[NR];
#pragma GCC unroll 4
      for (int v = 0; v < NR; ++v) bv[v] = V::load(bm + v * W);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const Reg ai = V::set1(ar[i][t]);
#pragma GCC unroll 4
        for (int v = 0; v < NR; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
      }
    }
    m += len;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) V::store(c + i * ld + v * W, acc[i][v]);
}

// One MR-row block of dw^T over pixels [m0, m1): its vector groups of NR (a last group of fewer).
template <class V, int MR, int NR, int kTable>
void wgrad_bcast_rows_blocked(const float* const* a, const float* dyT, const WgradBcastPlan& pl,
                              int64_t m0, int64_t m1, float* c) {
  constexpr int W = V::W;
  const int64_t nv = pl.Kp / W;
  int64_t v0 = 0;
  for (; v0 + NR <= nv; v0 += NR) {
    wgrad_bcast_block<V, MR, NR, kTable>(a, dyT + v0 * W, pl, m0, m1, c + v0 * W);
  }
  const int64_t rest = nv - v0;
  const float* b = dyT + v0 * W;
  float* cc = c + v0 * W;
  if (rest == 1) wgrad_bcast_block<V, MR, 1, kTable>(a, b, pl, m0, m1, cc);
  if constexpr (NR > 2) {
    if (rest == 2) wgrad_bcast_block<V, MR, 2, kTable>(a, b, pl, m0, m1, cc);
  }
  if constexpr (NR > 3) {
    if (rest == 3) wgrad_bcast_block<V, MR, 3, kTable>(a, b, pl, m0, m1, cc);
  }
}

template <class V>
void wgrad_bcast_rows(const float* const* a, const float* dyT, const WgradBcastPlan& pl, int64_t m0,
                      int64_t m1, float* c) {
  constexpr int MR = wgrad_bcast_mr<V>(), NR = wgrad_bcast_nr<V>();
  constexpr int MR2 = kWgradBcastPairMR, NR2 = kWgradBcastPairNR;
  const bool pair = pl.mr != MR;
  if (pl.strided) {
    pair ? wgrad_bcast_rows_blocked<V, MR2, NR2, true>(a, dyT, pl, m0, m1, c)
         : wgrad_bcast_rows_blocked<V, MR, NR, true>(a, dyT, pl, m0, m1, c);
  } else {
    pair ? wgrad_bcast_rows_blocked<V, MR2, NR2, false>(a, dyT, pl, m0, m1, c)
         : wgrad_bcast_rows_blocked<V, MR, NR, false>(a, dyT, pl, m0, m1, c);
  }
}

// dy^T (P*Q, Kp) of one image: dyT[m, k] = dy[k, m], zeros in the lanes k >= K. W x W blocks
// through V::transpose (rows past K zero vectors), the last PQ % W pixels one float at a time.
// The plain gather (dy[k * PQ + m] for k = 0..K-1) read K rows PQ floats apart: at PQ = 1024
// (32x32 images) they all fall in one L1 set, and the 3 -> 32 5x5 layer's wgrad spent more time
// in that gather than in its FMAs.
template <class V>
void wgrad_bcast_transpose_dy(const Conv2dGeometry& g, const WgradBcastPlan& pl, const float* dy,
                              float* dyT) {
  using Reg = typename V::R;
  constexpr int W = V::W;
  const int64_t PQ = g.P * g.Q, PQv = PQ / W * W;
  for (int64_t k0 = 0; k0 < pl.Kp; k0 += W) {
    for (int64_t m0 = 0; m0 < PQv; m0 += W) {
      Reg r[W];
      for (int i = 0; i < W; ++i) {
        r[i] = k0 + i < g.K ? V::load(dy + (k0 + i) * PQ + m0) : V::zero();
      }
      V::transpose(r);
      for (int j = 0; j < W; ++j) V::store(dyT + (m0 + j) * pl.Kp + k0, r[j]);
    }
  }
  for (int64_t m = PQv; m < PQ; ++m) {
    float* row = dyT + m * pl.Kp;
    int64_t k = 0;
    for (; k < g.K; ++k) row[k] = dy[k * PQ + m];
    for (; k < pl.Kp; ++k) row[k] = 0.0f;
  }
}

// Images n0..n1 accumulated into dwT (CRSp, Kp), which the caller zeroed.
template <class V>
void wgrad_bcast_images(const Conv2dGeometry& g, WgradBcastPlan pl, const float* x, const float* dy,
                        int64_t n0, int64_t n1, float* dwT) {
  const int64_t CRS = g.C * g.R * g.S, HW = g.H * g.W, PQ = g.P * g.Q, nb = pl.images;
  float* xp = scratch(Scratch::a, nb * g.C * pl.plane);
  float* dyT = scratch(Scratch::b, nb * PQ * pl.Kp);
  // Row pointers of the implicit column matrix; the rows past CRS (the last block's padding)
  // read row 0 and land in dw^T's padding rows, which are dropped. Strided: then the offset
  // table of a group's pixels (image j's planes at j * C * plane).
  float* e = scratch(Scratch::e, 2 * pl.CRSp + 2 + (pl.strided ? 2 * nb * PQ : 0));
  auto** rows = reinterpret_cast<const float**>(e);
  if (pl.strided) {
    auto* off = reinterpret_cast<int64_t*>(e + 2 * pl.CRSp + 2);
    for (int64_t j = 0; j < nb; ++j)
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          off[(j * g.P + p) * g.Q + q] =
              j * g.C * pl.plane + p * g.stride_h * pl.Wp + q * g.stride_w;
        }
    pl.off = off;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s)
        rows[(c * g.R + r) * g.S + s] = xp + c * pl.plane + r * pl.Wp + s;
  for (int64_t i = CRS; i < pl.CRSp; ++i) rows[i] = xp;
  for (int64_t n = n0; n < n1; n += nb) {
    const int64_t nbi = std::min(nb, n1 - n), L = nbi * PQ;
    for (int64_t c = 0; c < nbi * g.C; ++c) {
      pad_plane(x + (n * g.C + c) * HW, g.H, g.W, xp + c * pl.plane, pl.Hp, pl.Wp, g.pad_top,
                g.pad_left);
    }
    for (int64_t j = 0; j < nbi; ++j) {
      wgrad_bcast_transpose_dy<V>(g, pl, dy + (n + j) * g.K * PQ, dyT + j * PQ * pl.Kp);
    }
    for (int64_t m0 = 0; m0 < L; m0 += pl.chunk) {
      const int64_t m1 = std::min(L, m0 + pl.chunk);
      for (int64_t i0 = 0; i0 < pl.CRSp; i0 += pl.mr) {
        wgrad_bcast_rows<V>(rows + i0, dyT, pl, m0, m1, dwT + i0 * pl.Kp);
      }
    }
  }
}

// The weight gradient on this path, any stride: dw (K, C, R, S) and db (K; may be null)
// overwritten. Threads over images, each into its own dw^T; the threads'
// results are added in thread order (deterministic for a given thread count).
template <class V, class Cfg>
void conv2d_backward_weight_bcast(const Conv2dGeometry& g, const float* x, const float* dy,
                                  float* dw, float* db, int threads) {
  const int64_t CRS = g.C * g.R * g.S, KCRS = g.K * CRS, PQ = g.P * g.Q;
  const WgradBcastPlan pl = make_wgrad_bcast_plan<V>(g);
  const int outer = std::max<int64_t>(
      1, std::min<int64_t>(g.N, threads_for(g.N * 1024, 2.0 * g.N * KCRS * PQ, threads)));
  // dw^T of every thread side by side (one buffer: thread t's at t * part).
  const int64_t part = pl.CRSp * pl.Kp;
  float* all = scratch(Scratch::c, outer * part + outer * g.K);
  float* sums = all + outer * part;  // per thread K bias sums
  int used = 1;
  run_parallel(outer, [&](int tid, int nt) {
    if (tid == 0) used = nt;
    int64_t n0, n1;
    split_range(g.N, nt, tid, &n0, &n1);
    float* dwT = all + tid * part;
    std::memset(dwT, 0, part * sizeof(float));
    wgrad_bcast_images<V>(g, pl, x, dy, n0, n1, dwT);
    if (db) {
      for (int64_t k = 0; k < g.K; ++k) {
        double s = 0.0;
        for (int64_t n = n0; n < n1; ++n) s += sum_floats<V>(dy + (n * g.K + k) * PQ, PQ);
        sums[tid * g.K + k] = static_cast<float>(s);
      }
    }
  });
  for (int64_t i = 0; i < CRS; ++i) {
    for (int64_t k = 0; k < g.K; ++k) {
      float s = all[i * pl.Kp + k];
      for (int t = 1; t < used; ++t) s += all[t * part + i * pl.Kp + k];
      dw[k * CRS + i] = s;
    }
  }
  if (db) {
    for (int64_t k = 0; k < g.K; ++k) {
      float s = sums[k];
      for (int t = 1; t < used; ++t) s += sums[t * g.K + k];
      db[k] = s;
    }
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
