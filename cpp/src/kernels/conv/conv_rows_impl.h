// Row tiles for the stride-1 direct convolution (conv_direct_impl.h). The offset GEMM computes
// outputs Wp = Q + S - 1 wide, so S - 1 columns per row are junk: 20% of the FMAs for 5x5 on
// 16x16 'same', 27% for 7x7. Row tiles instead cover each output row with ceil(Q / W) whole
// vectors (Q = 16, 32: none wasted); the register block's NR vectors then start at per-vector
// offsets of the padded input (row p, vector v: p * Wp + v * W) instead of one after the other.
// The taps, their order and the J blocking are the offset GEMM's, so every output gets the same
// floats on either path; the choice is by the columns each computes.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/gemm/gemm_impl.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// C[i, k*W : (k+1)*W] (+)= sum_j A[j*a_cs + i] * B[boff[j] + vbase[k] : + W] for i < MR, k < NR:
// A is a block of pack_nn_a (a_cs = the packing's mr, possibly more than MR for a remainder
// block); C's NR vectors are contiguous, rows ldc apart. nn_micro's operations in its order.
template <class V, int MR, int NR>
void rows_micro(int64_t J, const float* A, int64_t a_cs, const float* B, const int64_t* boff,
                const int64_t* vbase, float* C, int64_t ldc, bool accumulate) {
  using R = typename V::R;
  constexpr int W = V::W;
  R c[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) c[i][k] = V::zero();
  const float* bp[NR];
#pragma GCC unroll 4
  for (int k = 0; k < NR; ++k) bp[k] = B + vbase[k];
  for (int64_t j = 0; j < J; ++j) {
    const int64_t o = boff[j];
    R bv[NR];
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) bv[k] = V::load(bp[k] + o);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const R a = V::set1(A[j * a_cs + i]);
#pragma GCC unroll 4
      for (int k = 0; k < NR; ++k) c[i][k] = V::fmadd(a, bv[k], c[i][k]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int k = 0; k < NR; ++k) {
      float* dst = C + i * ldc + k * W;
      V::store(dst, accumulate ? V::add(V::load(dst), c[i][k]) : c[i][k]);
    }
  }
}

// rows_micro for every (rows of A, vectors) up to the ISA's largest block.
using RowsFn = void (*)(int64_t, const float*, int64_t, const float*, const int64_t*,
                        const int64_t*, float*, int64_t, bool);

template <class V, int MRmax, int NRmax>
struct RowsTable {
  RowsFn fn[MRmax][NRmax];
  template <int MR, int NR>
  void fill() {
    fn[MR - 1][NR - 1] = &rows_micro<V, MR, NR>;
    if constexpr (NR < NRmax) {
      fill<MR, NR + 1>();
    } else if constexpr (MR < MRmax) {
      fill<MR + 1, 1>();
    }
  }
  RowsTable() { fill<1, 1>(); }
};

// The row tiling of a band: Qv vectors per output row, tiles of nr vectors.
struct RowTiling {
  bool on = false;
  int64_t Qv = 0;  // vectors per output row; the GEMM output's rows are Qv * W apart
};

// Whether row tiles compute fewer columns than the offset GEMM's wide rows for these sizes (K
// output channels, Q output columns, Wp padded width, `rows` output rows per band), by at least
// 15% (else the wide rows: one B pointer, the path measured most). At 6% fewer columns (3x3 'same'
// on 32x32, C = 3) row tiles measured slower (the conv1x1 suite network, 0.77-0.86x).
template <class V, class Cfg>
RowTiling choose_row_tiling(int64_t K, int64_t Q, int64_t Wp, int64_t rows) {
  RowTiling t;
  const BlockShape s = choose_nn_shape<Cfg>(K);
  const int64_t tile = static_cast<int64_t>(s.nr) * V::W;
  t.Qv = (Q + V::W - 1) / V::W;
  const int64_t wide = (rows * Wp + tile - 1) / tile * tile;
  const int64_t vecs = (rows * t.Qv + s.nr - 1) / s.nr * s.nr;
  t.on = vecs * V::W * 20 < wide * 17;
  return t;
}

// Vectors a band of `rows` output rows computes on row tiles (whole register blocks).
template <class Cfg>
int64_t row_tile_vectors(int64_t K, const RowTiling& t, int64_t rows) {
  const int nr = choose_nn_shape<Cfg>(K).nr;
  return (rows * t.Qv + nr - 1) / nr * nr;
}

// C (K, nvec * W) = A (K x J, packed by pack_nn_a for K rows) * the B vectors: vector u at
// B + boff[j] + vbase[u] for tap j. nvec is a multiple of the block's nr (row_tile_vectors).
// J blocks as gemm_nn's (the same sums in the same order).
template <class V, class Cfg>
void gemm_row_tiles(int64_t K, int64_t J, const float* A, const float* B, const int64_t* boff,
                    const int64_t* vbase, int64_t nvec, float* C, int threads) {
  static const RowsTable<V, Cfg::mr_max, Cfg::nr_max> table;
  const BlockShape s = choose_nn_shape<Cfg>(K);
  const int64_t ldc = nvec * V::W, ntiles = nvec / s.nr;
  const int64_t kc = Cfg::kc, nkb = (J + kc - 1) / kc, kb = (J + nkb - 1) / nkb;
  const int nt = threads_for(ntiles, 2.0 * K * ldc * J, threads);
  parallel_for(ntiles, nt, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t j0 = 0; j0 < J; j0 += kb) {
        const int64_t jn = std::min(kb, J - j0);
        for (int64_t i0 = 0; i0 < K; i0 += s.mr) {
          const int mr = static_cast<int>(std::min<int64_t>(s.mr, K - i0));
          const float* Ab = A + i0 * J + j0 * s.mr;  // block i0 / mr, step j0
          table.fn[mr - 1][s.nr - 1](jn, Ab, s.mr, B, boff + j0, vbase + t * s.nr,
                                     C + i0 * ldc + t * s.nr * V::W, ldc, j0 > 0);
        }
      }
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
