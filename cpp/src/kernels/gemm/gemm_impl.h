// The GEMM microkernels and drivers of gemm.h, written once over a vector type V (simd_*.h) and a
// register-block configuration Cfg, and compiled once per ISA (kernels_<isa>.cpp).
//
// Microkernel NN (MR x NR vectors): keeps MR*NR accumulators in registers; per step j it loads NR
// vectors of B's row j and broadcasts MR scalars of A's column j: MR*NR FMAs for NR + MR loads.
// AVX2 has 16 registers: 4x3 (12 accumulators + 3 B + 1 broadcast) or 6x2/5x2; AVX-512 has 32:
// 8x3, 6x4, ... Zen's FMA latency (4) times its two FMA pipes needs >= 8 independent accumulators
// to reach peak, so shapes with fewer are only used for remainders.
// Microkernel NT: the same register block, but both operands are loaded as vectors along the
// reduction and the MR*NR lane sums are reduced across lanes once per L-block.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/gemm/gemm.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy of every helper, so the linker
// can never pick an AVX-512-compiled copy for the scalar code path (an ODR trap of per-file flags).
namespace {

// ---- NN microkernel ----------------------------------------------------------------------------

// C[i, 0:NR*W] (+)= sum_j A[i*a_rs + j*a_cs] * B[boff[j] + 0:NR*W] for i < MR, where B and C are
// already offset to the tile's first column; with Tail the last vector has only `tail` lanes.
template <class V, int MR, int NR, bool Tail>
void nn_micro(int64_t J, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
              const int64_t* boff, int tail, float* C, int64_t ldc, bool accumulate) {
  using R = typename V::R;
  constexpr int W = V::W;
  R c[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) c[i][k] = V::zero();
  const float* ap[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) ap[i] = A + i * a_rs;
  for (int64_t j = 0; j < J; ++j) {
    const float* b = B + boff[j];
    R bv[NR];
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) {
      bv[k] = (Tail && k == NR - 1) ? V::load_partial(b + k * W, tail) : V::load(b + k * W);
    }
    const int64_t ja = j * a_cs;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const R a = V::set1(ap[i][ja]);
#pragma GCC unroll 4
      for (int k = 0; k < NR; ++k) c[i][k] = V::fmadd(a, bv[k], c[i][k]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* crow = C + i * ldc;
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) {
      const bool part = Tail && k == NR - 1;
      R v = c[i][k];
      if (accumulate)
        v = V::add(v, part ? V::load_partial(crow + k * W, tail) : V::load(crow + k * W));
      if (part) {
        V::store_partial(crow + k * W, v, tail);
      } else {
        V::store(crow + k * W, v);
      }
    }
  }
}

using NNFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, const int64_t*, int,
                      float*, int64_t, bool);

template <class V, int MRmax, int NRmax>
struct NNTable {
  NNFn fn[MRmax][NRmax][2];
  template <int MR, int NR>
  void fill() {
    fn[MR - 1][NR - 1][0] = &nn_micro<V, MR, NR, false>;
    fn[MR - 1][NR - 1][1] = &nn_micro<V, MR, NR, true>;
    if constexpr (NR < NRmax) {
      fill<MR, NR + 1>();
    } else if constexpr (MR < MRmax) {
      fill<MR + 1, 1>();
    }
  }
  NNTable() { fill<1, 1>(); }
};

// ---- NT microkernel ----------------------------------------------------------------------------

// C[i, j] (+)= sum_{l < L} A[i*lda + l] * brow[j][l] for i < MR, j < NR.
template <class V, int MR, int NR>
void nt_micro(int64_t L, const float* A, int64_t lda, const float* const* brow, float* C,
              int64_t ldc, bool accumulate) {
  using R = typename V::R;
  constexpr int W = V::W;
  R c[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) c[i][k] = V::zero();
  const float* bp[NR];
#pragma GCC unroll 4
  for (int k = 0; k < NR; ++k) bp[k] = brow[k];
  const int64_t Lv = L / W * W;
  for (int64_t l = 0; l < Lv; l += W) {
    R bv[NR];
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) bv[k] = V::load(bp[k] + l);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const R a = V::load(A + i * lda + l);
#pragma GCC unroll 4
      for (int k = 0; k < NR; ++k) c[i][k] = V::fmadd(a, bv[k], c[i][k]);
    }
  }
  if (Lv < L) {
    const int t = static_cast<int>(L - Lv);
    R bv[NR];
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) bv[k] = V::load_partial(bp[k] + Lv, t);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const R a = V::load_partial(A + i * lda + Lv, t);
#pragma GCC unroll 4
      for (int k = 0; k < NR; ++k) c[i][k] = V::fmadd(a, bv[k], c[i][k]);
    }
  }
  // Lane sums, four rows at a time where possible (one reduction network for four sums).
  constexpr int MR4 = MR / 4 * 4;
#pragma GCC unroll 4
  for (int i = 0; i < MR4; i += 4) {
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) {
      float s[4];
      V::hsum4(c[i][k], c[i + 1][k], c[i + 2][k], c[i + 3][k], s);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        float& out = C[(i + r) * ldc + k];
        out = accumulate ? out + s[r] : s[r];
      }
    }
  }
#pragma GCC unroll 4
  for (int i = MR4; i < MR; ++i) {
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) {
      const float s = V::hsum(c[i][k]);
      float& out = C[i * ldc + k];
      out = accumulate ? out + s : s;
    }
  }
}

using NTFn = void (*)(int64_t, const float*, int64_t, const float* const*, float*, int64_t, bool);

template <class V, int MRmax, int NRmax>
struct NTTable {
  NTFn fn[MRmax][NRmax];
  template <int MR, int NR>
  void fill() {
    fn[MR - 1][NR - 1] = &nt_micro<V, MR, NR>;
    if constexpr (NR < NRmax) {
      fill<MR, NR + 1>();
    } else if constexpr (MR < MRmax) {
      fill<MR + 1, 1>();
    }
  }
  NTTable() { fill<1, 1>(); }
};

// ---- choosing a register block ----------------------------------------------------------------

// Estimated cycles per step for an mr x nr block: FMA throughput (2 per cycle), FMA latency
// (4 cycles per dependent accumulator chain), and loads (Cfg::loads_per_cycle).
template <class Cfg>
double block_cycles(int mr, int nr, double loads, double loads_per_cycle = Cfg::loads_per_cycle) {
  return std::max({mr * nr / 2.0, 4.0, loads / loads_per_cycle});
}

// The shape among Cfg::shapes that covers M rows (NN: rows of A; the columns are streamed) in the
// fewest estimated cycles per column vector, remainder block included.
template <class Cfg>
BlockShape choose_nn_shape(int64_t M) {
  BlockShape best = Cfg::nn_shapes[0];
  double best_cost = 1e300;
  for (const BlockShape& s : Cfg::nn_shapes) {
    const int64_t full = M / s.mr, rem = M % s.mr;
    double cost = full * block_cycles<Cfg>(s.mr, s.nr, s.mr + s.nr) / s.nr;
    if (rem) cost += block_cycles<Cfg>(static_cast<int>(rem), s.nr, rem + s.nr) / s.nr;
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best = s;
    }
  }
  return best;
}

// NT: both M (rows of A) and N (rows of B) are blocked; count every block's cycles.
template <class Cfg>
BlockShape choose_nt_shape(int64_t M, int64_t N) {
  BlockShape best = Cfg::nt_shapes[0];
  double best_cost = 1e300;
  for (const BlockShape& s : Cfg::nt_shapes) {
    double cost = 0;
    for (int part_i = 0; part_i < 2; ++part_i) {
      const int64_t ni = part_i ? (M % s.mr ? 1 : 0) : M / s.mr;
      const int mi = part_i ? static_cast<int>(M % s.mr) : s.mr;
      for (int part_j = 0; part_j < 2; ++part_j) {
        const int64_t nj = part_j ? (N % s.nr ? 1 : 0) : N / s.nr;
        const int nr = part_j ? static_cast<int>(N % s.nr) : s.nr;
        if (ni && nj) cost += ni * nj * block_cycles<Cfg>(mi, nr, mi + nr, Cfg::nt_loads_per_cycle);
      }
    }
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best = s;
    }
  }
  return best;
}

// ---- packing
// --------------------------------------------------------------------------------------

// Floats of an M x J matrix packed for gemm_nn: row blocks of choose_nn_shape(M).mr rows, each
// stored [j][mr] (the last block zero-padded).
template <class Cfg>
int64_t packed_nn_a_size(int64_t M, int64_t J) {
  const int mr = choose_nn_shape<Cfg>(M).mr;
  return (M + mr - 1) / mr * mr * J;
}

template <class Cfg>
void pack_nn_a(int64_t M, int64_t J, const float* A, int64_t a_rs, int64_t a_cs, float* dst) {
  const int mr = choose_nn_shape<Cfg>(M).mr;
  for (int64_t b = 0; b * mr < M; ++b) {
    float* d = dst + b * mr * J;
    const int rows = static_cast<int>(std::min<int64_t>(mr, M - b * mr));
    for (int64_t j = 0; j < J; ++j) {
      for (int i = 0; i < mr; ++i)
        d[j * mr + i] = i < rows ? A[(b * mr + i) * a_rs + j * a_cs] : 0.0f;
    }
  }
}

// ---- drivers ------------------------------------------------------------------------------------

// A table of J offsets for a strided B (in scratch slot d; the caller must not be using it).
inline const int64_t* offsets_or_strided(const int64_t* boff, int64_t n, int64_t ld) {
  if (boff) return boff;
  auto* t = reinterpret_cast<int64_t*>(scratch(Scratch::d, static_cast<size_t>(2 * n + 2)));
  for (int64_t j = 0; j < n; ++j) t[j] = j * ld;
  return t;
}

// B rows a multiple of 1 KB and at least 4 KB apart are copied to a contiguous panel per tile
// and J block when several row blocks of A read the panel: such rows all fall in the same few
// L1/L2 sets (the dense layers' backward GEMMs, whose B rows are in = 4096 floats apart:
// 128 x 4096 -> 512 input gradient 39.5 GFLOP/s against 61.2 at in = 4000, AVX2, 1 thread).
// The copy reads B once; the microkernels then read the panel from L1.
inline bool nn_b_rows_alias(int64_t ldb) {
  return ldb >= 1024 && ldb % 256 == 0;
}

// Rows j0..j0+jn of B's columns n0..n0+cols copied to panel (rows tw apart), and offs[j] = j * tw.
inline void pack_nn_b_panel(const float* B, const int64_t* boff, int64_t j0, int64_t jn, int64_t n0,
                            int64_t cols, int64_t tw, float* panel) {
  for (int64_t j = 0; j < jn; ++j) {
    std::memcpy(panel + j * tw, B + boff[j0 + j] + n0, cols * sizeof(float));
  }
}

template <class V, class Cfg>
void gemm_nn(const GemmNN& g, int threads) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.J <= 0) {
    if (!g.accumulate) {
      for (int64_t i = 0; i < g.M; ++i) std::memset(g.C + i * g.ldc, 0, g.N * sizeof(float));
    }
    return;
  }
  static const NNTable<V, Cfg::mr_max, Cfg::nr_max> table;
  constexpr int W = V::W;
  const BlockShape s = choose_nn_shape<Cfg>(g.M);
  const int64_t tw = static_cast<int64_t>(s.nr) * W;  // columns per tile
  const int64_t ntiles = (g.N + tw - 1) / tw;
  const int64_t* boff = offsets_or_strided(g.boff, g.J, g.ldb);
  // A packed into row blocks [block][j][mr] is one sequential stream for the microkernel instead
  // of mr rows far apart (which also collide in L1 sets); worth it when many tiles reuse A.
  const float* A = g.A;
  int64_t a_rs = g.a_rs, a_cs = g.a_cs, a_bs = s.mr * g.a_rs;  // a_bs: stride between blocks
  if (g.a_packed || (ntiles >= 4 && g.M > 1)) {
    if (!g.a_packed) {
      float* packed = scratch(Scratch::e, static_cast<size_t>(packed_nn_a_size<Cfg>(g.M, g.J)));
      pack_nn_a<Cfg>(g.M, g.J, g.A, g.a_rs, g.a_cs, packed);
      A = packed;
    }
    a_rs = 1;
    a_cs = s.mr;
    a_bs = s.mr * g.J;
  }
  // J blocks of at most Cfg::kc steps (balanced), independent of M so that an output's rounding
  // does not depend on how many rows (e.g. samples) share the call; for each tile, C is loaded and
  // stored once per J block.
  const int64_t kc = Cfg::kc;
  const int64_t nkb = (g.J + kc - 1) / kc;
  const int64_t kb = (g.J + nkb - 1) / nkb;
  const bool pack_b = !g.boff && nn_b_rows_alias(g.ldb) && g.M > s.mr;
  const int nt = threads_for(ntiles, 2.0 * g.M * g.N * g.J, threads);
  parallel_for(ntiles, nt, [&](int64_t t0, int64_t t1) {
    // This thread's panel: kb offsets j * tw, then kb rows of tw floats.
    int64_t* poff = nullptr;
    float* panel = nullptr;
    if (pack_b) {
      poff = reinterpret_cast<int64_t*>(scratch(Scratch::f, static_cast<size_t>(kb * (2 + tw))));
      panel = reinterpret_cast<float*>(poff + kb);
      for (int64_t j = 0; j < kb; ++j) poff[j] = j * tw;
    }
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * tw;
      const int64_t cols = std::min(tw, g.N - n0);
      const int nv = static_cast<int>((cols + W - 1) / W);
      const int tail = static_cast<int>(cols - (nv - 1) * W);
      const bool has_tail = tail != W;
      for (int64_t j0 = 0; j0 < g.J; j0 += kb) {
        const int64_t jn = std::min(kb, g.J - j0);
        const bool acc = g.accumulate || j0 > 0;
        const float* Bt = g.B + n0;  // the tile's B, rows at boff[j0 + j]
        const int64_t* bo = boff + j0;
        if (pack_b) {
          pack_nn_b_panel(g.B, boff, j0, jn, n0, cols, tw, panel);
          Bt = panel, bo = poff;
        }
        // The row block's A by a running pointer: an integer division per microkernel call was
        // ~4% of the lecture net's input-gradient GEMM (its 5- and 6-row blocks, J = 50).
        const float* Ab = A + j0 * a_cs;
        for (int64_t i0 = 0; i0 < g.M; i0 += s.mr, Ab += a_bs) {
          const int mr = static_cast<int>(std::min<int64_t>(s.mr, g.M - i0));
          table.fn[mr - 1][nv - 1][has_tail](jn, Ab, a_rs, a_cs, Bt, bo, tail,
                                             g.C + i0 * g.ldc + n0, g.ldc, acc);
        }
      }
    }
  });
}

// gemm_nt with one row of A (a dense layer at batch 1): blocks of one row and four of B, over the
// whole of L (A's row stays in L1). The register blocks of the general path would give a 1 x 3
// block, three accumulator chains (latency-bound) and a second pass over L for an A of one row:
// the 1250 -> 100 layer of the lecture net took 8.1-8.7 us with its weights in L2; this 6.7-7.6.
// Each output's arithmetic is the general path's for a single L block (one chain of vector
// FMAs, then V::hsum), so a row gets the same floats as in a batch of two or three rows whose A
// is also one block (the lecture net's 1250 features: batches 1 to 3).
template <class V>
void gemv_nt(const GemmNT& g, const int64_t* boff, int threads) {
  constexpr int NR = 4;
  const int64_t njb = (g.N + NR - 1) / NR;
  const int nt = threads_for(njb, 2.0 * g.N * g.L, threads);
  parallel_for(njb, nt, [&](int64_t jb0, int64_t jb1) {
    const float* brow[NR];
    for (int64_t jb = jb0; jb < jb1; ++jb) {
      const int64_t j0 = jb * NR;
      const int nr = static_cast<int>(std::min<int64_t>(NR, g.N - j0));
      for (int k = 0; k < nr; ++k) brow[k] = g.B + boff[j0 + k];
      float* c = g.C + j0;
      switch (nr) {
        case 4:
          nt_micro<V, 1, 4>(g.L, g.A, g.lda, brow, c, g.ldc, g.accumulate);
          break;
        case 3:
          nt_micro<V, 1, 3>(g.L, g.A, g.lda, brow, c, g.ldc, g.accumulate);
          break;
        case 2:
          nt_micro<V, 1, 2>(g.L, g.A, g.lda, brow, c, g.ldc, g.accumulate);
          break;
        default:
          nt_micro<V, 1, 1>(g.L, g.A, g.lda, brow, c, g.ldc, g.accumulate);
          break;
      }
    }
  });
}

template <class V, class Cfg>
void gemm_nt(const GemmNT& g, int threads) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.L <= 0) {
    if (!g.accumulate) {
      for (int64_t i = 0; i < g.M; ++i) std::memset(g.C + i * g.ldc, 0, g.N * sizeof(float));
    }
    return;
  }
  static const NTTable<V, Cfg::mr_max, Cfg::nr_max> table;
  const int64_t* boff = offsets_or_strided(g.boff, g.N, g.ldb);
  if (g.M == 1 && g.L <= Cfg::lc * 4) {
    gemv_nt<V>(g, boff, threads);
    return;
  }
  const BlockShape s = choose_nt_shape<Cfg>(g.M, g.N);
  const int64_t njb = (g.N + s.nr - 1) / s.nr;
  // L blocks of at most lc (balanced): an A block (mr x lc) stays in L1 while B blocks stream.
  // An A no larger than one such block is one block: the whole dot product in one chain.
  const int64_t nlb = g.M * g.L <= s.mr * Cfg::lc ? 1 : (g.L + Cfg::lc - 1) / Cfg::lc;
  const int64_t lb = ((g.L + nlb - 1) / nlb + V::W - 1) / V::W * V::W;
  const int nt = threads_for(njb, 2.0 * g.M * g.N * g.L, threads);
  parallel_for(njb, nt, [&](int64_t jb0, int64_t jb1) {
    const float* brow[Cfg::nr_max];
    for (int64_t l0 = 0; l0 < g.L; l0 += lb) {
      const int64_t ln = std::min(lb, g.L - l0);
      const bool acc = g.accumulate || l0 > 0;
      for (int64_t i0 = 0; i0 < g.M; i0 += s.mr) {
        const int mr = static_cast<int>(std::min<int64_t>(s.mr, g.M - i0));
        for (int64_t jb = jb0; jb < jb1; ++jb) {
          const int64_t j0 = jb * s.nr;
          const int nr = static_cast<int>(std::min<int64_t>(s.nr, g.N - j0));
          for (int k = 0; k < nr; ++k) brow[k] = g.B + boff[j0 + k] + l0;
          table.fn[mr - 1][nr - 1](ln, g.A + i0 * g.lda + l0, g.lda, brow, g.C + i0 * g.ldc + j0,
                                   g.ldc, acc);
        }
      }
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
