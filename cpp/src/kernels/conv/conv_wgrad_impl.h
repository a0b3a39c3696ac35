// The weight gradient (wgrad): the offset GEMM over wide images, stacked im2col for small
// ones, or Winograd.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv_algo_impl.h"
#include "kernels/conv/conv_direct_impl.h"
#include "kernels/conv/conv_strided_impl.h"
#include "kernels/conv/conv_wgrad_band_impl.h"
#include "kernels/conv/conv_wgrad_bcast_impl.h"
#include "kernels/conv/conv_wgrad_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Weight gradient paths (measured on the lecture net and the 64->64 56x56 layer): the offset GEMM
// from this many output pixels per image; below, stacked im2col of about kWgradStackPixels pixels.
constexpr int64_t kWgradDirectMinPixels = 1024;
constexpr int64_t kWgradStackPixels = 1024;

// Stride 1 with at least this many output channels and rows C*R*S: the broadcast GEMM of
// conv_wgrad_bcast_impl.h (vector lanes over K: fewer channels would leave most lanes empty;
// its transpose of dy costs about 30/(C*R*S) of the FMAs' time: the lecture net's conv 1, C*R*S
// = 9, measured 3x slower than the stacked im2col, the 3 -> 32 5x5 layer (75) 1.1-1.3x faster,
// the 32 -> 64 5x5 / 7x7 layers 2.2-3x faster, conv_shapes batch 128, 1 thread).
// 1x1 convolutions keep their own paths (not measured on this one). Any stride: allconv_s2's
// 32 -> 64 and 64 -> 128 3x3 s2 layers, batch 128, AVX2, 1 thread, 8.0-9.5 -> 5.4 ms and
// 8.0-11 -> 5.5-7.4 ms against the stacked im2col (C++ micro-benchmark, alternating builds).
constexpr int64_t kWgradBcastMinChannels = 16;
constexpr int64_t kWgradBcastMinRows = 64;

inline bool wgrad_bcast_suits(const Conv2dGeometry& g) {
  return g.R * g.S > 1 && g.K >= kWgradBcastMinChannels && g.C * g.R * g.S >= kWgradBcastMinRows;
}

struct WgradStack {
  int64_t images = 1;  // images per stack
  int64_t ld = 0;      // row length of the stacked col / dy matrices (whole vectors)
};

// Phase: images n0..n1 on the direct path. Per band of output rows, the padded input and dy
// widened to Wp; one offset GEMM (dot products over the band's pixels) accumulates into dw.
template <class V, class Cfg>
void wgrad_direct_images(const Conv2dGeometry& g, const float* x, const float* dy,
                         const Banding& band, const int64_t* off, int64_t n0, int64_t n1,
                         float* my_dw, int inner) {
  float* xp = scratch(Scratch::a, g.C * band.bplane + g.S + V::W);
  float* dyw = scratch(Scratch::b, g.K * band.rows * band.Wp);
  std::memset(xp + g.C * band.bplane, 0, (g.S + V::W) * sizeof(float));
  wgrad_band_images<V, Cfg>(
      g, dy, band, off, n0, n1, xp, dyw, my_dw, inner, [&](int64_t n, int64_t p0, int64_t nr) {
        for (int64_t c = 0; c < g.C; ++c) {
          pad_plane(x + (n * g.C + c) * g.H * g.W, g.H, g.W, xp + c * band.bplane, nr + g.R - 1,
                    band.Wp, g.pad_top - p0, g.pad_left);
        }
      });
}

// Phase: images n0..n1 on the stacked path: im2col of a stack of images side by side, dy
// copied beside it (summed into sums for db on the way), one GEMM per stack into dw.
template <class V, class Cfg>
void wgrad_stacked_images(const Conv2dGeometry& g, const float* x, const float* dy,
                          const WgradStack& stack, double* sums, int64_t n0, int64_t n1,
                          float* my_dw, float* my_db, int inner) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  // Stacks of nb images side by side: col (CRS, nb*PQ) and dy (K, nb*PQ), the row length
  // rounded up to whole vectors with zeros (no masked tail in the microkernel).
  float* col = scratch(Scratch::a, CRS * stack.ld);
  float* dys = scratch(Scratch::b, g.K * stack.ld);
  // db from the copy of dy (one read of dy; the 4.3 MB gradient of the lecture net's conv 1
  // was read twice): the same sums, in the same order, as the direct path's.
  std::fill(sums, sums + g.K, 0.0);
  for (int64_t s0 = n0; s0 < n1; s0 += stack.images) {
    const int64_t nb = std::min(stack.images, n1 - s0), L = nb * PQ;
    const int64_t Lv = (L + V::W - 1) / V::W * V::W;
    if (nb == 1) {
      // One image: dy's rows are already the stack's rows, so the GEMM reads them in place
      // (its masked tail is 7 loads a block here) instead of a 4.3 MB copy for the lecture
      // net's conv 1 at batch 64; db sums them as the copy did.
      const float* dyn = dy + s0 * g.K * PQ;
      im2col_any_stride<V>(g, x + s0 * g.C * g.H * g.W, col, stack.ld);
      if (my_db) {
        for (int64_t k = 0; k < g.K; ++k) sums[k] += sum_floats<V>(dyn + k * PQ, PQ);
      }
      GemmNT gg;
      gg.M = g.K, gg.N = CRS, gg.L = PQ, gg.A = dyn, gg.lda = PQ, gg.B = col, gg.ldb = stack.ld,
      gg.C = my_dw, gg.ldc = CRS, gg.accumulate = s0 > n0;
      gemm_nt<V, Cfg>(gg, inner);
      continue;
    }
    for (int64_t i = 0; i < nb; ++i) {
      im2col_any_stride<V>(g, x + (s0 + i) * g.C * g.H * g.W, col + i * PQ, stack.ld);
      for (int64_t k = 0; k < g.K; ++k) {
        const float* src = dy + ((s0 + i) * g.K + k) * PQ;
        float* dst = dys + k * stack.ld + i * PQ;
        if (my_db) {
          sums[k] += copy_sum_floats<V>(src, PQ, dst);
        } else {
          std::memcpy(dst, src, PQ * sizeof(float));
        }
      }
    }
    for (int64_t j = 0; j < CRS; ++j)
      for (int64_t l = L; l < Lv; ++l) col[j * stack.ld + l] = 0.0f;
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t l = L; l < Lv; ++l) dys[k * stack.ld + l] = 0.0f;
    GemmNT gg;
    gg.M = g.K, gg.N = CRS, gg.L = Lv, gg.A = dys, gg.lda = stack.ld, gg.B = col, gg.ldb = stack.ld,
    gg.C = my_dw, gg.ldc = CRS, gg.accumulate = s0 > n0;
    gemm_nt<V, Cfg>(gg, inner);
  }
  if (my_db) {
    for (int64_t k = 0; k < g.K; ++k) my_db[k] = static_cast<float>(sums[k]);
  }
}

// Phase: the per-thread partial dw / db of threads 1..used-1 added to thread 0's, in thread
// order (deterministic for a given thread count).
inline void wgrad_reduce_threads(int64_t KCRS, int64_t K, const float* partials, int64_t part,
                                 int used, float* dw, float* db) {
  for (int t = 1; t < used; ++t) {
    const float* p = partials + (t - 1) * part;
    for (int64_t i = 0; i < KCRS; ++i) dw[i] += p[i];
    if (db) {
      for (int64_t k = 0; k < K; ++k) db[k] += p[KCRS + k];
    }
  }
}

template <class V, class Cfg>
void conv2d_backward_weight_algo(const Conv2dGeometry& g, const float* x, const float* dy,
                                 float* dw, float* db, int threads, ConvAlgo algo) {
  const int64_t CRS = g.C * g.R * g.S, KCRS = g.K * CRS, PQ = g.P * g.Q;
  if (KCRS == 0 && g.K == 0) return;
  if (g.N == 0 || PQ == 0 || CRS == 0) {
    std::memset(dw, 0, KCRS * sizeof(float));
    if (db) std::memset(db, 0, g.K * sizeof(float));
    return;
  }
  if (use_winograd(algo, g)) {
    winograd_weight_grad<V, Cfg>(g, x, dy, dw, db, threads);
    return;
  }
  if (algo == ConvAlgo::automatic && wgrad_bcast_suits(g)) {
    conv2d_backward_weight_bcast<V, Cfg>(g, x, dy, dw, db, threads);
    return;
  }
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
  // Stride 1 on images big enough that a band's dot products are long: the offset GEMM on the
  // padded input (no im2col). Otherwise (small images like the lecture net's 11x11 outputs, where
  // a per-image reduction of ~143 pixels spent a third of its time on lane sums and call overhead),
  // im2col of several images side by side, so that every dot product runs over ~1000 pixels; the
  // copy is 1/K of the FMAs. Lecture conv 2, batch 64, AVX2, 1 thread: 4.9 -> 3.1 ms (with the
  // NT block choice of block_configs.h).
  const bool stride1 = g.stride_h == 1 && g.stride_w == 1;
  const bool direct = stride1 && PQ >= kWgradDirectMinPixels;
  const bool phase = !stride1 && PQ >= kWgradDirectMinPixels;  // conv_wgrad_strided_impl.h
  WgradStack stack;
  if (!direct && !phase) {
    stack.images = std::clamp<int64_t>(kWgradStackPixels / PQ, 1, std::max<int64_t>(g.N, 1));
    stack.ld = (stack.images * PQ + V::W - 1) / V::W * V::W;
  }
  // Wider bands than the forward's: each GEMM call then reduces over more pixels before its lane
  // sums (gemm_nt sums lanes once per call), and dy's band is read once per band anyway.
  const Banding band = stride1 ? make_banding(g.C, g.R, g.S, g.P, g.Q, 4 * kBandInputBytes)
                               : make_strided_banding(g, 4 * kBandInputBytes);
  // Shared: offsets (stride 1), then per-thread partial dw/db for threads 1..outer-1 (thread 0
  // accumulates straight into dw/db), then per thread K double sums of dy (the stacked path's db).
  const int64_t part = KCRS + g.K;
  const int64_t sums_at = (2 * CRS + (outer - 1) * part + 1) / 2 * 2;  // 8-byte aligned
  float* shared = scratch(Scratch::c, sums_at + 2 * outer * g.K);
  auto* off = reinterpret_cast<int64_t*>(shared);
  float* partials = shared + 2 * CRS;
  auto* db_sums = reinterpret_cast<double*>(shared + sums_at);
  if (direct) band_offsets(g.C, g.R, g.S, band, off);
  if (phase) strided_band_offsets(g, band, off);
  int used = 1;  // threads OpenMP really gave us
  run_parallel(outer, [&](int tid, int nt) {
    if (tid == 0) used = nt;
    int64_t n0, n1;
    split_range(g.N, nt, tid, &n0, &n1);
    float* my_dw = tid == 0 ? dw : partials + (tid - 1) * part;
    float* my_db = tid == 0 ? db : my_dw + KCRS;
    if (n0 == n1) {
      std::memset(my_dw, 0, KCRS * sizeof(float));
      if (my_db) std::memset(my_db, 0, g.K * sizeof(float));
    }
    if (my_db && (direct || phase)) {
      for (int64_t k = 0; k < g.K; ++k) {
        double s = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
          s += sum_floats<V>(dy + (n * g.K + k) * PQ, PQ);
        }
        my_db[k] = static_cast<float>(s);
      }
    }
    if (direct) {
      wgrad_direct_images<V, Cfg>(g, x, dy, band, off, n0, n1, my_dw, inner);
    } else if (phase) {
      wgrad_phase_images<V, Cfg>(g, x, dy, band, off, n0, n1, my_dw, inner);
    } else {
      wgrad_stacked_images<V, Cfg>(g, x, dy, stack, db_sums + tid * g.K, n0, n1, my_dw, my_db,
                                   inner);
    }
  });
  wgrad_reduce_threads(KCRS, g.K, partials, part, used, dw, db);
}

template <class V, class Cfg>
void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* db, int threads) {
  conv2d_backward_weight_algo<V, Cfg>(g, x, dy, dw, db, threads, ConvAlgo::automatic);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
