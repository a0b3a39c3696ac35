// Convolution on the GEMM microkernels of gemm_impl.h, written once for every ISA.
//
// Design (measured on the 2-core Zen machine, see README "Performance"):
// - 3x3 stride 1 with >= 8 channels in and out (the lecture net's conv 2, the 64->64 layer):
//   Winograd F(2x2, 3x3), winograd_impl.h, for the forward pass, the fused forward + pool, the
//   weight gradient and the input gradient (the forward's adjoint; with both gradients wanted,
//   conv2d_backward makes dy's transform once for the two). Small images in batches of at least
//   one vector of them (inference) or of whole vectors (training: forward and both gradients)
//   take Winograd F(4x4, 3x3) instead, with the vector lanes over images (winograd4_impl.h).
//   Everything else:
// - Stride 1 (every layer of the lecture net and the 64->64 target): no im2col. Each image's
//   input is copied once into a zero-padded plane (C, Hp, Wp); then output pixel m = p*Wp + q of
//   channel k is sum_{c,r,s} w[k,c,r,s] * xpad[c*Hp*Wp + r*Wp + s + m], a GEMM whose B rows are
//   the padded input shifted by a per-(c,r,s) offset (gemm_nn with an offset table). Outputs are
//   computed Wp wide; the S-1 "junk" columns per row are dropped while the result is copied to
//   NCHW, and that copy also adds the bias and applies the fused activation. Costs: (Wp-Q)/Wp
//   extra FMAs (3.4% at 56x56 pad 1) plus two cheap passes over memory, against an im2col copy
//   that is R*S times the input (93 of 148 ms in numpy's im2col on the target layer).
// - Input gradient, stride 1: the same forward kernel on dy padded by (R-1-pad) with the
//   weights flipped and transposed (C, K, R, S) -- or, where that computes many taps in the
//   padding (small images: 1.6x the useful FMAs for the lecture net's 13x13), a GEMM
//   col = w^T dy on dy's rows as they are (1.06x) plus a gather of col's shifted rows into dx
//   with lane masks (see dgrad_col_image).
// - Inference: conv + bias + ReLU + 2x2 max pool in one call, the pool being the GEMM epilogue.
// - Weight gradient, stride 1 on images of >= 1024 output pixels (smaller ones: im2col of a stack
//   of images, see conv2d_backward_weight): dw[k, (c,r,s)] = sum_m dy_wide[k, m] * xpad[off + m]
//   where dy_wide is dy with zeroed junk columns: gemm_nt (dot products along the pixels), summed
//   over the images a thread owns, then over threads in thread order (deterministic for a given
//   thread count).
// - Other strides: im2col into a per-thread buffer, then the same gemm kernels (correct and
//   reasonably fast; no model here uses them on a hot path).
// - Threads: over images when there are at least as many images as threads (no synchronisation
//   inside a layer), else inside each GEMM over column tiles.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv_common_impl.h"
#include "kernels/gemm_impl.h"
#include "kernels/parallel.h"
#include "kernels/pointwise/activation_impl.h"
#include "kernels/pool2d_impl.h"
#include "kernels/winograd4_impl.h"
#include "kernels/winograd_impl.h"
#include "kernels/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy of every helper, so the linker
// can never pick an AVX-512-compiled copy for the scalar code path (an ODR trap of per-file flags).
namespace {

// dst (rows, Q) = act(src (rows, ld)[:, :Q] + bias); bias may be null.
template <class V>
void copy_rows_bias_act(const float* src, int64_t ld, int64_t rows, int64_t Q, float bias,
                        Activation act, float* dst) {
  using R = typename V::R;
  constexpr int W = V::W;
  const R vb = V::set1(bias);
  for (int64_t p = 0; p < rows; ++p) {
    const float* s = src + p * ld;
    float* d = dst + p * Q;
    int64_t q = 0;
    for (; q + W <= Q; q += W) {
      V::store(d + q, activate<V>(act, V::add(V::load(s + q), vb)));
    }
    if (q < Q && Q >= W && s != d) {
      // One more whole vector ending at Q, overlapping the last one (it stores the same values
      // again): partial stores cost ~10x a whole one on AMD, and rows here are often ~11-26 wide.
      V::store(d + Q - W, activate<V>(act, V::add(V::load(s + Q - W), vb)));
    } else if (q < Q) {
      const int t = static_cast<int>(Q - q);
      V::store_partial(d + q, activate<V>(act, V::add(V::load_partial(s + q, t), vb)), t);
    }
  }
}

// col (C*R*S, P*Q): col[(c,r,s), p*Q+q] = x[c, p*sh - pt + r, q*sw - pl + s] (0 outside). Rows of
// col are ldcol apart (default P*Q), so several images can sit side by side in one col matrix.
template <class V>
void im2col(const Conv2dGeometry& g, const float* x, float* col, int64_t ldcol = 0) {
  const int64_t PQ = g.P * g.Q;
  if (ldcol == 0) ldcol = PQ;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        float* dst = col + ((c * g.R + r) * g.S + s) * ldcol;
        // Output columns whose tap lands inside the row: [q0, q1) (stride 1: one shifted copy).
        const int64_t shift = s - g.pad_left;
        const int64_t q0 = g.stride_w == 1 ? std::clamp<int64_t>(-shift, 0, g.Q) : 0;
        const int64_t q1 = g.stride_w == 1 ? std::clamp<int64_t>(g.W - shift, q0, g.Q) : 0;
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t h = p * g.stride_h - g.pad_top + r;
          float* d = dst + p * g.Q;
          if (h < 0 || h >= g.H) {
            for (int64_t q = 0; q < g.Q; ++q) d[q] = 0.0f;
            continue;
          }
          const float* xr = x + (c * g.H + h) * g.W;
          if (g.stride_w == 1) {
            for (int64_t q = 0; q < q0; ++q) d[q] = 0.0f;
            copy_floats<V>(xr + q0 + shift, q1 - q0, d + q0);
            for (int64_t q = q1; q < g.Q; ++q) d[q] = 0.0f;
            continue;
          }
          for (int64_t q = 0; q < g.Q; ++q) {
            const int64_t wi = q * g.stride_w - g.pad_left + s;
            d[q] = (wi >= 0 && wi < g.W) ? xr[wi] : 0.0f;
          }
        }
      }
}

// dx[c, p*sh - pt + r, q*sw - pl + s] += col[(c,r,s), p*Q+q]; dx must be zeroed first.
// col rows have stride ldcol (>= P*Q). With stride_w == 1 each (c, r, s, p) adds one contiguous
// row segment, which the compiler vectorises.
inline void col2im_add(const Conv2dGeometry& g, const float* col, float* dx, int64_t ldcol) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s) {
        const float* src = col + ((c * g.R + r) * g.S + s) * ldcol;
        for (int64_t p = 0; p < g.P; ++p) {
          const int64_t h = p * g.stride_h - g.pad_top + r;
          if (h < 0 || h >= g.H) continue;
          float* dr = dx + (c * g.H + h) * g.W;
          const float* sr = src + p * g.Q;
          if (g.stride_w == 1) {
            const int64_t shift = s - g.pad_left;  // dx column = q + shift
            const int64_t q0 = std::max<int64_t>(0, -shift);
            const int64_t q1 = std::min<int64_t>(g.Q, g.W - shift);
            for (int64_t q = q0; q < q1; ++q) dr[q + shift] += sr[q];
            continue;
          }
          for (int64_t q = 0; q < g.Q; ++q) {
            const int64_t wi = q * g.stride_w - g.pad_left + s;
            if (wi >= 0 && wi < g.W) dr[wi] += sr[q];
          }
        }
      }
}

// Stride-1 convolutions run on horizontal bands of output rows, so that a band's padded input
// copy and its GEMM output stay in L2 between being written and being read (the 64->64 56x56
// image alone is 861 KB padded). Measured against whole images and against bands of 40 KB..1 MB:
// no difference above this machine's run-to-run noise, so the band is sized for L2.
constexpr int64_t kBandInputBytes = 96 * 1024;

struct Banding {
  int64_t rows;    // output rows per band
  int64_t Wp;      // padded row width (= output width + S - 1): outputs are computed Wp wide
  int64_t bplane;  // floats per channel of a band's padded input: (rows + R - 1) * Wp
};

inline Banding make_banding(int64_t C, int64_t R, int64_t S, int64_t P, int64_t Q,
                            int64_t budget = kBandInputBytes, bool even_rows = false) {
  Banding b;
  b.Wp = Q + S - 1;
  const int64_t fit = budget / (4 * std::max<int64_t>(C, 1) * b.Wp) - (R - 1);
  // At least ~64 output columns per band so the GEMM still has whole tiles to work on.
  const int64_t min_rows = (64 + b.Wp - 1) / b.Wp;
  b.rows = std::clamp<int64_t>(std::max(fit, min_rows), 1, P);
  if (even_rows) b.rows = std::max<int64_t>(2, b.rows / 2 * 2);  // whole 2x2 pooling windows
  b.bplane = (b.rows + R - 1) * b.Wp;
  return b;
}

// Offsets of the implicit column matrix's rows (c, r, s) in a banded padded input.
inline void band_offsets(int64_t C, int64_t R, int64_t S, const Banding& b, int64_t* off) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s) off[(c * R + r) * S + s] = c * b.bplane + r * b.Wp + s;
}

// dst (rows, Qp) = act(2x2 max pool of src's row pairs + bias): pooled row i from src rows 2i and
// 2i + 1 (ld apart; 2 Qp valid columns each), dst rows Qp apart. Pooling before the bias and
// activation gives the same floats as after: adding a constant and a monotone activation preserve
// the order (rounding is monotone too). Reads whole vectors: the rows live in a scratch buffer
// with slack. One call per channel's band, not per row: the lecture net's rows are 13 windows,
// two blocks, and a call per row spent as much on the call as on the pooling.
// `room`: floats dst may be written to (a short row's whole-vector store spills into the rows
// after it, written afterwards, as far as room allows).
template <class V>
void pool_rows_bias_act(const float* src, int64_t ld, int64_t rows, int64_t Qp, float bias,
                        Activation act, float* dst, int64_t room) {
  const typename V::R vb = V::set1(bias), zero = V::zero();
  const bool relu = act == Activation::relu;
  for (int64_t i = 0; i < rows; ++i) {
    const float* r0 = src + 2 * i * ld;
    const float* r1 = r0 + ld;
    float* d = dst + i * Qp;
    const auto block = [&](int64_t q) {
      typename V::R v = V::add(maxpool2x2_block<V>(r0 + 2 * q, r1 + 2 * q, V::W), vb);
      return relu ? V::max(zero, v) : v;
    };
    int64_t q = 0;
    for (; q + V::W <= Qp; q += V::W) V::store(d + q, block(q));
    if (q == Qp) continue;
    // The tail as whole vectors: one overlapping the previous (same values again), or one
    // spilling into the next row; partial stores are slow (see simd_avx2.h).
    if (Qp >= V::W) {
      V::store(d + Qp - V::W, block(Qp - V::W));
    } else if (i * Qp + V::W <= room) {
      V::store(d + q, block(q));
    } else {
      V::store_partial(d + q, block(q), static_cast<int>(Qp - q));
    }
  }
}

// One image of a stride-1 correlation: out (K, P, Q) = act(A (K, C*R*S) * cols(in) + bias), where
// `in` (C, H, W) sits at (top, left) of a zero plane of (P + R - 1, Q + S - 1) (top/left may be
// negative: cropping). With pool2x2, P is even, band.rows too, and out is the 2x2 max pool
// (K, P / 2, Q / 2) of that. A is packed (pack_nn_a). Uses scratch slots a and b; `off` from
// band_offsets.
template <class V, class Cfg>
void correlate_image(const float* in, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left,
                     const float* A, int64_t K, int64_t R, int64_t S, int64_t P, int64_t Q,
                     const Banding& band, const int64_t* off, const float* bias, Activation act,
                     float* out, int threads, bool pool2x2 = false) {
  const int64_t CRS = C * R * S, Wp = band.Wp;
  // Columns are computed in whole register tiles: the last tile's extra columns are junk like
  // the S-1 per row (cheaper than a masked tail kernel: masked loads are slow on AMD). xp and yt
  // get a tile of slack for them.
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(K).nr) * V::W;
  const int64_t slack = S + tile + V::W;
  float* xp = scratch(Scratch::a, C * band.bplane + slack);
  float* yt = scratch(Scratch::b, K * (band.rows * Wp + tile) + 2 * V::W);
  std::memset(xp + C * band.bplane, 0, slack * sizeof(float));
  for (int64_t p0 = 0; p0 < P; p0 += band.rows) {
    const int64_t nr = std::min(band.rows, P - p0);
    const int64_t M = (nr * Wp + tile - 1) / tile * tile;  // row stride of yt
    for (int64_t c = 0; c < C; ++c) {
      pad_plane(in + c * H * W, H, W, xp + c * band.bplane, nr + R - 1, Wp, top - p0, left);
    }
    GemmNN gg;
    gg.M = K, gg.N = M, gg.J = CRS, gg.A = A, gg.a_packed = true, gg.B = xp, gg.boff = off,
    gg.C = yt, gg.ldc = M;
    gemm_nn<V, Cfg>(gg, threads);
    for (int64_t k = 0; k < K; ++k) {
      const float bk = bias ? bias[k] : 0.0f;
      if (!pool2x2) {
        copy_rows_bias_act<V>(yt + k * M, Wp, nr, Q, bk, act, out + k * P * Q + p0 * Q);
        continue;
      }
      const int64_t Pp = P / 2, Qp = Q / 2, row = p0 / 2, rows = nr / 2;
      // A spill lands in later rows of this channel, written afterwards (later in this band, or
      // in a later band).
      pool_rows_bias_act<V>(yt + k * M, Wp, rows, Qp, bk, act, out + (k * Pp + row) * Qp,
                            (Pp - row) * Qp);
    }
  }
}

// The shared inputs of a stride-1 forward correlation, in scratch slot c (read by every thread):
// the band's row offsets, then the weights packed once for every image's GEMM.
struct CorrelationWeights {
  const int64_t* off;
  const float* wp;
};

template <class Cfg>
CorrelationWeights pack_correlation_weights(const Conv2dGeometry& g, const Banding& band,
                                            const float* w) {
  const int64_t CRS = g.C * g.R * g.S;
  float* shared = scratch(Scratch::c, 2 * CRS + packed_nn_a_size<Cfg>(g.K, CRS));
  auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
  float* wp = shared + 2 * CRS;
  band_offsets(g.C, g.R, g.S, band, off);
  pack_nn_a<Cfg>(g.K, CRS, w, CRS, 1, wp);
  return {off, wp};
}

// Which algorithm a convolution's forward pass or weight gradient uses (tests force each one;
// the ops pick). winograd: F(2x2, 3x3); winograd4: F(4x4, 3x3) over image lanes (the forward,
// and training's forward + backward on blocks of images, the last one possibly padded).
enum class ConvAlgo { automatic, direct, winograd, winograd4 };

// Winograd F(2x2, 3x3) (winograd_impl.h) for 3x3 stride-1 layers with enough channels on both
// sides for its 16 GEMMs (J = C, M = K) to keep the microkernel busy: 2.25x fewer FMAs than the
// direct correlation. Conv 1 of the lecture net (C = 1) stays direct.
constexpr int64_t kWinogradMinChannels = 8;

inline bool winograd_applies(const Conv2dGeometry& g) {
  return g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1;
}

inline bool winograd_suits(int64_t C, int64_t K, const Conv2dGeometry& g) {
  return winograd_applies(g) && C >= kWinogradMinChannels && K >= kWinogradMinChannels;
}

// Forcing Winograd on a layer it does not apply to (not 3x3 stride 1) runs the direct path.
inline bool use_winograd(ConvAlgo algo, const Conv2dGeometry& g) {
  if (algo == ConvAlgo::automatic) return winograd_suits(g.C, g.K, g);
  return algo == ConvAlgo::winograd && winograd_applies(g);
}

// A forward pass that keeps nothing for a backward (inference) takes F(4x4, 3x3)
// (winograd4_impl.h) where Winograd suits the layer, its images are small enough for blocks of
// V::W of them, and the batch fills at least one block: 36 multiply-adds per 16 outputs per
// channel pair against F(2x2)'s 64. A smaller batch stays on F(2x2): with lanes over one image's
// few tiles F(4x4) wastes most of its GEMM columns (the lecture net's conv 2 + pool at batch 1:
// 31 us against 21). So every batch of at least V::W images gives the same floats for an image,
// and so does every smaller batch; the two differ in the last bits. The fused forward + pool
// decides the same way as the forward.
// Forcing winograd4 on a layer Winograd does not apply to runs the direct path. (A forward that
// saves for the backward decides by use_winograd4_training below.)
template <class V>
bool use_winograd4(ConvAlgo algo, const Conv2dGeometry& g, bool saving) {
  if (saving || !winograd_applies(g)) return false;
  if (algo == ConvAlgo::winograd4) return true;
  return algo == ConvAlgo::automatic && winograd_suits(g.C, g.K, g) && g.N >= V::W &&
         winograd4_suits<V>(g.C, g.P, g.Q);
}

// Training (a forward that saves for the backward, and that backward) takes F(4x4) too, on
// batches of at least V::W images that fill at least 3/4 of their blocks' lanes
// (winograd4_trains); other batches train with F(2x2).
// The forward, conv2d_saved_floats and the backward decide alike, so the backward reads the
// layout the forward saved.
template <class V>
bool use_winograd4_training(ConvAlgo algo, const Conv2dGeometry& g) {
  const bool winograd = algo == ConvAlgo::automatic
                            ? winograd_suits(g.C, g.K, g)
                            : algo == ConvAlgo::winograd4 && winograd_applies(g);
  return winograd && winograd4_trains<V>(g.N, g.C, g.P, g.Q);
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
    winograd4_correlate<V, Cfg>(x, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, w, g.K, g.P, g.Q, b,
                                act, y, false, threads, 0, saved);
    return;
  }
  if (use_winograd4<V>(algo, g, saved != nullptr)) {
    winograd4_correlate<V, Cfg>(x, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, w, g.K, g.P, g.Q, b,
                                act, y, false, threads);
    return;
  }
  if (algo == ConvAlgo::winograd4) algo = ConvAlgo::winograd;  // saving a batch F(4x4) can't
  if (use_winograd(algo, g)) {
    // Saving: in the backward's groups.
    winograd_correlate<V, Cfg>(x, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, w, g.K, g.P, g.Q, b,
                               act, y, false, threads, saved ? winograd_wgrad_group_bytes(g.C) : 0,
                               saved);
    return;
  }
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
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
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* col = scratch(Scratch::a, CRS * PQ);
    for (int64_t n = n0; n < n1; ++n) {
      im2col<V>(g, x + n * g.C * g.H * g.W, col);
      float* yn = y + n * g.K * PQ;
      GemmNN gg;
      gg.M = g.K, gg.N = PQ, gg.J = CRS, gg.A = w, gg.a_rs = CRS, gg.a_cs = 1, gg.B = col,
      gg.ldb = PQ, gg.C = yn, gg.ldc = PQ;
      gemm_nn<V, Cfg>(gg, inner);
      for (int64_t k = 0; k < g.K; ++k) {
        copy_rows_bias_act<V>(yn + k * PQ, PQ, 1, PQ, b ? b[k] : 0.0f, act, yn + k * PQ);
      }
    }
  });
}

// y (N, K, P / 2, Q / 2) = 2x2 max pool of act(conv(x, w) + b), stride 1 only: the conv's output
// never goes to memory (the pooling is the GEMM's epilogue), and an odd last row/column that the
// pool would drop is not computed.
template <class V, class Cfg>
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                    float* y, Activation act, int threads, float* saved = nullptr) {
  conv2d_forward_algo<V, Cfg>(g, x, w, b, y, act, threads, ConvAlgo::automatic, saved);
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
    winograd4_correlate<V, Cfg>(x, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, w, g.K, 2 * Pp,
                                2 * Qp, b, act, y, true, threads);
    return;
  }
  if (use_winograd(algo, g)) {
    winograd_correlate<V, Cfg>(x, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, w, g.K, 2 * Pp, 2 * Qp,
                               b, act, y, true, threads);
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
                              inner, true);
    }
  });
}

template <class V, class Cfg>
void conv2d_forward_maxpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act, int threads) {
  conv2d_forward_maxpool2x2_algo<V, Cfg>(g, x, w, b, y, act, threads, ConvAlgo::automatic);
}

// Which algorithm conv2d_backward_input uses (tests force each one; the op picks by cost).
enum class DgradPath { automatic, correlate, col, winograd };

// Bands of output rows for the stride-1 col path of the input gradient: a band's col (CRS, rows *
// Q, rounded up to whole tiles) is gathered while it is still in L2. (Gathering a few channels'
// col rows right after their GEMM, while in L1, measured no faster for the lecture net.)
constexpr int64_t kDgradColBytes = 192 * 1024;

struct DgradBanding {
  int64_t rows;   // output rows per band
  int64_t tile;   // GEMM columns per register tile
  int64_t ldc;    // row stride of col and of dy's band copy: rows * Q rounded up to whole tiles
  int64_t nvj;    // vectors per input row: ceil(W / V::W)
  int64_t front;  // floats before col's first row read by dgrad_gather (masked off)
  int64_t back;   // floats after col's last row read by dgrad_gather (masked off)
};

template <class V, class Cfg>
DgradBanding make_dgrad_banding(const Conv2dGeometry& g, int64_t col_bytes = kDgradColBytes) {
  DgradBanding b;
  const int64_t CRS = g.C * g.R * g.S, W = V::W;
  b.tile = static_cast<int64_t>(choose_nn_shape<Cfg>(CRS).nr) * W;
  const int64_t fit = col_bytes / (4 * std::max<int64_t>(CRS, 1) * g.Q);
  // At least ~16 tiles of columns per band: each band's last tile is partly junk.
  const int64_t min_rows = (16 * b.tile + g.Q - 1) / g.Q;
  b.rows = std::clamp<int64_t>(std::max(fit, min_rows), 1, g.P);
  b.ldc = (b.rows * g.Q + b.tile - 1) / b.tile * b.tile;
  b.nvj = (g.W + W - 1) / W;
  // dgrad_gather reads col row i at i*ldc + (p - p0)*Q + j + pad_left - s for j < nvj*W: from
  // S-1 floats before a row to nvj*W + pad_left past its band's last output row.
  b.front = (g.S - 1 + W - 1) / W * W;
  b.back = (b.nvj * W + g.pad_left + W - 1) / W * W;
  return b;
}

// Estimated cost of the col path in scalar FMAs: the GEMM over every band's whole tiles, plus the
// gather (R*S vector loads, masks and adds per V::W floats of dx, measured at ~4 FMAs' time per
// float and tap on the lecture net's layer) and dy's copy.
template <class V>
double dgrad_col_cost(const Conv2dGeometry& g, const DgradBanding& b) {
  const int64_t CRS = g.C * g.R * g.S;
  const int64_t bands = (g.P + b.rows - 1) / b.rows, last = g.P - (bands - 1) * b.rows;
  const double cols = double(bands - 1) * b.ldc + (last * g.Q + b.tile - 1) / b.tile * b.tile;
  return double(CRS) * g.K * cols + 4.0 * double(CRS) * g.H * b.nvj * V::W + 2.0 * g.K * g.P * g.Q;
}

// A lane mask in a struct: a vector of __m256 would drop its alignment attribute (and warn).
template <class V>
struct LaneMask {
  typename V::M m;
};

// kS > 0: the kernel width S as a constant (the tap loop unrolls, the masks stay in registers).
template <class V, int kS>
void dgrad_gather_s(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                    const float* col, int64_t p0, int64_t nr, bool accumulate, float* dx,
                    const float* prefetch, int64_t pf_total) {
  using Reg = typename V::R;
  constexpr int W = V::W;
  constexpr int kA = kS > 0 ? kS : 1;  // add chains per vector
  const int64_t S = kS > 0 ? kS : g.S;
  const int64_t RS = g.R * S, HW = g.H * g.W, total = g.C * HW, nvj = b.nvj, ldc = b.ldc;
  const int64_t h0 = accumulate ? std::max<int64_t>(0, p0 - g.pad_top) : 0;
  const int64_t h1 = accumulate ? std::min(g.H, p0 + nr + g.R - 1 - g.pad_top) : g.H;
  // Prefetch a slice of pf_chunk floats per row: a few lines at a time (a burst would stall).
  const int64_t pf_rows = std::max<int64_t>(1, g.C * (h1 - h0));
  const int64_t pf_chunk = (pf_total + pf_rows * 16 - 1) / (pf_rows * 16) * 16;
  int64_t pf_at = 0;
  auto load_dx = [&](int64_t at) {
    return at + W <= total ? V::load(dx + at) : V::load_partial(dx + at, int(total - at));
  };
  auto store_dx = [&](int64_t at, Reg v) {
    if (at + W <= total) {
      V::store(dx + at, v);
    } else {
      V::store_partial(dx + at, v, static_cast<int>(total - at));
    }
  };
  for (int64_t c = 0; c < g.C; ++c) {
    const float* cc = col + c * RS * ldc;
    for (int64_t h = h0; h < h1; ++h) {
      // Taps r whose output row p = h + pt - r is in [p0, p0 + nr).
      const int64_t r0 = std::max<int64_t>(0, h + g.pad_top - (p0 + nr - 1));
      const int64_t r1 = std::min<int64_t>(g.R, h + g.pad_top - p0 + 1);
      const int64_t row = c * HW + h * g.W;
      // Tap (r, s) of input column j reads col row (c, r, s) at (h + pt - r - p0)*Q + j + pl - s.
      const float* t0 = cc + (h + g.pad_top - p0) * g.Q + g.pad_left;
      const int64_t r_step = S * ldc - g.Q, s_step = ldc - 1;
      if (prefetch && pf_at < pf_total) {
        const int64_t end = std::min(pf_total, pf_at + pf_chunk);
        for (; pf_at < end; pf_at += 16) __builtin_prefetch(prefetch + pf_at, 0, 2);
      }
      int64_t jv = 0;
      // Two vectors at a time, with one chain of adds per tap column s when S is a constant (a
      // single chain of R*S adds is bound by the add latency); the chains are then summed in s
      // order: a fixed order.
      for (; jv + 2 <= nvj; jv += 2) {
        Reg a0[kA], a1[kA];
#pragma GCC unroll 8
        for (int i = 0; i < kA; ++i) a0[i] = V::zero(), a1[i] = V::zero();
        const LaneMask<V>* m = masks + jv;
        const float* t = t0 + r0 * r_step + jv * W;
        if constexpr (kS > 0) {
          // One pointer per s (offsets held in registers, not reloaded from the stack).
          const float* ts[kS];
          typename V::M m0[kS], m1[kS];
#pragma GCC unroll 8
          for (int i = 0; i < kS; ++i) {
            ts[i] = t + i * s_step, m0[i] = m[i * nvj].m, m1[i] = m[i * nvj + 1].m;
          }
          for (int64_t r = r0; r < r1; ++r) {
#pragma GCC unroll 8
            for (int i = 0; i < kS; ++i) {
              a0[i] = V::add(a0[i], V::maskz(m0[i], V::load(ts[i])));
              a1[i] = V::add(a1[i], V::maskz(m1[i], V::load(ts[i] + W)));
              ts[i] += r_step;
            }
          }
        } else {
          for (int64_t r = r0; r < r1; ++r, t += r_step) {
            for (int64_t s = 0; s < S; ++s) {
              a0[0] = V::add(a0[0], V::maskz(m[s * nvj].m, V::load(t + s * s_step)));
              a1[0] = V::add(a1[0], V::maskz(m[s * nvj + 1].m, V::load(t + s * s_step + W)));
            }
          }
        }
#pragma GCC unroll 8
        for (int i = 1; i < kA; ++i) a0[0] = V::add(a0[0], a0[i]), a1[0] = V::add(a1[0], a1[i]);
        if (accumulate) {
          a0[0] = V::add(load_dx(row + jv * W), a0[0]);
          a1[0] = V::add(load_dx(row + jv * W + W), a1[0]);
        }
        store_dx(row + jv * W, a0[0]);
        store_dx(row + jv * W + W, a1[0]);
      }
      if (jv < nvj) {
        Reg a0 = V::zero();
        const LaneMask<V>* m = masks + jv;
        const float* t = t0 + r0 * r_step + jv * W;
        for (int64_t r = r0; r < r1; ++r, t += r_step) {
          for (int64_t s = 0; s < S; ++s) {
            a0 = V::add(a0, V::maskz(m[s * nvj].m, V::load(t + s * s_step)));
          }
        }
        if (accumulate) a0 = V::add(load_dx(row + jv * W), a0);
        store_dx(row + jv * W, a0);
      }
    }
  }
}

// dx (C, H, W) (+)= the scatter of one band's col (CRS, nr * Q; output rows p0 .. p0 + nr), as a
// gather: dx[c, h, j] (+)= sum_{r, s} col[(c,r,s), (h + pt - r - p0) * Q + j + pl - s] over the
// taps whose output position (p, q) = (h + pt - r, j + pl - s) lies in the band and in [0, Q).
// Whole vectors along j: lanes whose q is outside [0, Q) (they read a neighbouring row, junk, or
// the zero slack around col) or whose j >= W are masked off (masks[s * nvj + jv]). Taps are
// summed in (r, s) order: deterministic. With accumulate false (a single band) every row is
// overwritten: no zeroing pass; a row's last vector spills zeros into the next row, which is
// written after it. The last vector of the image is stored partially.
// prefetch (may be null): pf_total floats to prefetch to L2 along the way (the next image's dy,
// whose copy would otherwise wait for memory).
template <class V>
void dgrad_gather(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                  const float* col, int64_t p0, int64_t nr, bool accumulate, float* dx,
                  const float* prefetch, int64_t pf_total) {
  if (g.S == 3) {
    dgrad_gather_s<V, 3>(g, b, masks, col, p0, nr, accumulate, dx, prefetch, pf_total);
  } else {
    dgrad_gather_s<V, 0>(g, b, masks, col, p0, nr, accumulate, dx, prefetch, pf_total);
  }
}

// dst[0, n) = src[0, n), dst[n, ld) = 0 (ld a multiple of V::W).
template <class V>
void copy_zero_fill(const float* src, int64_t n, float* dst, int64_t ld) {
  const int64_t nv = n / V::W * V::W;
  int64_t i = 0;
  for (; i < nv; i += V::W) V::store(dst + i, V::load(src + i));
  for (; i < n; ++i) dst[i] = src[i];
  for (; i % V::W; ++i) dst[i] = 0.0f;
  for (; i < ld; i += V::W) V::store(dst + i, V::zero());
}

// One image of the stride-1 col path: dx (C, H, W) = the transpose of the convolution applied to
// dy (K, P, Q). Per band of output rows: col (CRS, nr*Q) = w^T dy[:, band] (a GEMM on dy's rows
// copied to whole tiles; wtp = w^T packed), then gathered into dx (dgrad_gather). col points into
// a per-thread buffer with b.front / b.back floats of zeros around it; dyb holds K * b.ldc.
// Measured against laying dy out Q + S - 1 wide with zero junk columns (so that the scatter is
// one contiguous vector add per (c, r, s)): that GEMM computes the junk too, 9 instead of 8
// tiles per image for the lecture net's 11x11 output; 2.45 vs 2.36 ms for its batch of 64.
template <class V, class Cfg>
void dgrad_col_image(const Conv2dGeometry& g, const DgradBanding& b, const LaneMask<V>* masks,
                     const float* dy, const float* dy_next, const float* wtp, float* col,
                     float* dyb, float* dx, int threads) {
  const int64_t CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  const bool one_band = b.rows >= g.P;
  if (!one_band) std::memset(dx, 0, g.C * g.H * g.W * sizeof(float));
  for (int64_t p0 = 0; p0 < g.P; p0 += b.rows) {
    const int64_t nr = std::min(b.rows, g.P - p0), n = nr * g.Q;
    const int64_t ld = (n + b.tile - 1) / b.tile * b.tile;
    // The band of dy with rows of whole tiles, zero-filled: aligned rows for the GEMM's B loads
    // (dy's own rows of P*Q floats are not) and no masked tail tile.
    for (int64_t k = 0; k < g.K; ++k) {
      copy_zero_fill<V>(dy + k * PQ + p0 * g.Q, n, dyb + k * ld, ld);
    }
    GemmNN gg;
    gg.M = CRS, gg.N = ld, gg.J = g.K, gg.A = wtp, gg.a_packed = true, gg.B = dyb, gg.ldb = ld,
    gg.C = col, gg.ldc = b.ldc;
    gemm_nn<V, Cfg>(gg, threads);
    // While gathering the last band, prefetch the next image's dy (dy_next, may be null).
    const bool last = p0 + b.rows >= g.P;
    dgrad_gather<V>(g, b, masks, col, p0, nr, !one_band, dx, last ? dy_next : nullptr, g.K * PQ);
  }
}

// masks[s * nvj + jv], lane i: the input column j = jv*W + i is < W and its output column
// q = j + pad_left - s is in [0, Q).
template <class V>
std::vector<LaneMask<V>> dgrad_masks(const Conv2dGeometry& g, const DgradBanding& b) {
  float lane[V::W];
  for (int i = 0; i < V::W; ++i) lane[i] = static_cast<float>(i);
  const typename V::R idx = V::load(lane);
  std::vector<LaneMask<V>> m(static_cast<size_t>(g.S * b.nvj));
  for (int64_t s = 0; s < g.S; ++s)
    for (int64_t jv = 0; jv < b.nvj; ++jv) {
      const typename V::R j = V::add(idx, V::set1(float(jv * V::W)));
      const typename V::R q = V::add(j, V::set1(float(g.pad_left - s)));
      m[s * b.nvj + jv].m =
          V::mand(V::mand(V::gt(q, V::set1(-0.5f)), V::gt(V::set1(g.Q - 0.5f), q)),
                  V::gt(V::set1(g.W - 0.5f), j));
    }
  return m;
}

// Stride 1: either a correlation of dy (padded by R-1-pad) with the flipped weights, on the
// shifted-row GEMM (no extra pass; but every tap that lands in the padding is computed), or
// col = w^T dy followed by a gather (dgrad_col_image). The lecture net's 13x13 input grad
// computes 1.63x the useful FMAs as a correlation and 1.06x via col, while the 64->64 layer with
// padding 1 costs about the same FMAs both ways and the correlation needs no gather: pick by
// estimated cost.
template <class V, class Cfg>
DgradPath dgrad_choose_path(const Conv2dGeometry& g, const DgradBanding& band) {
  const int64_t KRS = g.K * g.R * g.S;
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(g.C).nr) * V::W;
  const int64_t wp = g.W + g.S - 1;
  const double corr = double(g.C) * ((g.H * wp + tile - 1) / tile * tile) * KRS;
  return corr <= dgrad_col_cost<V>(g, band) ? DgradPath::correlate : DgradPath::col;
}

template <class V, class Cfg>
void conv2d_backward_input_path(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                                int threads, DgradPath path) {
  const int64_t CRS = g.C * g.R * g.S, KRS = g.K * g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  if (g.N == 0 || g.C == 0 || HW == 0) return;
  if (g.K == 0 || PQ == 0) {
    std::memset(dx, 0, g.N * g.C * HW * sizeof(float));
    return;
  }
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * CRS * PQ, threads, &outer, &inner);
  const bool stride1 = g.stride_h == 1 && g.stride_w == 1;
  DgradBanding band{};
  if (stride1) band = make_dgrad_banding<V, Cfg>(g);
  if (stride1 && path == DgradPath::automatic) {
    // Winograd's adjoint wherever the forward takes Winograd (AVX2, 1 thread, batch 64: the
    // lecture net's conv 2 1.8 ms against 2.4 on col + gather; the 64->64 56x56 layer 57-61 ms,
    // as the Winograd correlation of dy with the flipped weights it replaced).
    path = winograd_suits(g.C, g.K, g) ? DgradPath::winograd : dgrad_choose_path<V, Cfg>(g, band);
  }
  if (path == DgradPath::winograd && winograd_applies(g)) {
    winograd_backward<V, Cfg>(nullptr, w, dy, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, g.K, g.P,
                              g.Q, dx, nullptr, nullptr, threads);
    return;
  }
  if (stride1 && path == DgradPath::correlate) {
    // dx = correlation of dy, padded by (R-1-pad_top, S-1-pad_left), with the flipped,
    // transposed weights wt[c, (k, r', s')] = w[k, c, R-1-r', S-1-s'].
    const Banding cband = make_banding(g.K, g.R, g.S, g.H, g.W);
    float* shared = scratch(Scratch::c, g.C * KRS + 2 * KRS + packed_nn_a_size<Cfg>(g.C, KRS));
    auto* off = reinterpret_cast<int64_t*>(shared);  // first: 64-byte aligned for int64
    float* wt = shared + 2 * KRS;
    float* wtp = wt + g.C * KRS;
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t r = 0; r < g.R; ++r)
          for (int64_t s = 0; s < g.S; ++s) {
            wt[c * KRS + (k * g.R + r) * g.S + s] =
                w[((k * g.C + c) * g.R + (g.R - 1 - r)) * g.S + (g.S - 1 - s)];
          }
    band_offsets(g.K, g.R, g.S, cband, off);
    pack_nn_a<Cfg>(g.C, KRS, wt, KRS, 1, wtp);
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        correlate_image<V, Cfg>(dy + n * g.K * PQ, g.K, g.P, g.Q, g.R - 1 - g.pad_top,
                                g.S - 1 - g.pad_left, wtp, g.C, g.R, g.S, g.H, g.W, cband, off,
                                nullptr, Activation::none, dx + n * g.C * HW, inner);
      }
    });
    return;
  }
  // w^T (CRS, K) packed once, shared by the threads.
  float* wtp = scratch(Scratch::c, packed_nn_a_size<Cfg>(CRS, g.K));
  pack_nn_a<Cfg>(CRS, g.K, w, 1, CRS, wtp);
  if (stride1) {
    const std::vector<LaneMask<V>> masks = dgrad_masks<V>(g, band);
    parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
      const int64_t n_col = CRS * band.ldc;
      float* buf = scratch(Scratch::a, band.front + n_col + band.back);
      float* dyb = scratch(Scratch::b, g.K * band.ldc);
      float* col = buf + band.front;
      // The slack dgrad_gather reads (masked off): zeros, not stale floats.
      std::memset(buf, 0, band.front * sizeof(float));
      std::memset(col + n_col, 0, band.back * sizeof(float));
      for (int64_t n = n0; n < n1; ++n) {
        const float* dyn = dy + n * g.K * PQ;
        dgrad_col_image<V, Cfg>(g, band, masks.data(), dyn, n + 1 < n1 ? dyn + g.K * PQ : nullptr,
                                wtp, col, dyb, dx + n * g.C * HW, inner);
      }
    });
    return;
  }
  // Other strides: col (CRS, PQ) = w^T dy[n] (K, PQ), then scattered back to the input positions
  // (col2im). dy's rows are copied with a stride of whole register tiles (zero-filled), so the
  // GEMM needs no masked tail.
  const int64_t tile = static_cast<int64_t>(choose_nn_shape<Cfg>(CRS).nr) * V::W;
  const int64_t ld = (PQ + tile - 1) / tile * tile;
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* col = scratch(Scratch::a, CRS * ld);
    float* dyn = scratch(Scratch::b, g.K * ld);
    for (int64_t n = n0; n < n1; ++n) {
      pad_plane(dy + n * g.K * PQ, g.K, PQ, dyn, g.K, ld, 0, 0);
      GemmNN gg;
      gg.M = CRS, gg.N = ld, gg.J = g.K, gg.A = wtp, gg.a_packed = true, gg.B = dyn, gg.ldb = ld,
      gg.C = col, gg.ldc = ld;
      gemm_nn<V, Cfg>(gg, inner);
      float* dxn = dx + n * g.C * HW;
      std::memset(dxn, 0, g.C * HW * sizeof(float));
      col2im_add(g, col, dxn, ld);
    }
  });
}

// Weight gradient paths (measured on the lecture net and the 64->64 56x56 layer): the offset GEMM
// from this many output pixels per image; below, stacked im2col of about kWgradStackPixels pixels.
constexpr int64_t kWgradDirectMinPixels = 1024;
constexpr int64_t kWgradStackPixels = 1024;

struct WgradStack {
  int64_t images = 1;  // images per stack
  int64_t ld = 0;      // row length of the stacked col / dy matrices (whole vectors)
};

template <class V, class Cfg>
void conv2d_backward_input(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                           int threads) {
  conv2d_backward_input_path<V, Cfg>(g, dy, w, dx, threads, DgradPath::automatic);
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
    winograd_weight_grad<V, Cfg>(x, dy, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, g.K, g.P, g.Q,
                                 dw, db, threads);
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
  const bool direct = g.stride_h == 1 && g.stride_w == 1 && PQ >= kWgradDirectMinPixels;
  WgradStack stack;
  if (!direct) {
    stack.images = std::clamp<int64_t>(kWgradStackPixels / PQ, 1, std::max<int64_t>(g.N, 1));
    stack.ld = (stack.images * PQ + V::W - 1) / V::W * V::W;
  }
  // Wider bands than the forward's: each GEMM call then reduces over more pixels before its lane
  // sums (gemm_nt sums lanes once per call), and dy's band is read once per band anyway.
  const Banding band = make_banding(g.C, g.R, g.S, g.P, g.Q, 4 * kBandInputBytes);
  const int64_t Wp = band.Wp;
  // Shared: offsets (stride 1), then per-thread partial dw/db for threads 1..outer-1 (thread 0
  // accumulates straight into dw/db), then per thread K double sums of dy (the stacked path's db).
  const int64_t part = KCRS + g.K;
  const int64_t sums_at = (2 * CRS + (outer - 1) * part + 1) / 2 * 2;  // 8-byte aligned
  float* shared = scratch(Scratch::c, sums_at + 2 * outer * g.K);
  auto* off = reinterpret_cast<int64_t*>(shared);
  float* partials = shared + 2 * CRS;
  auto* db_sums = reinterpret_cast<double*>(shared + sums_at);
  if (direct) band_offsets(g.C, g.R, g.S, band, off);
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
    if (my_db && direct) {
      for (int64_t k = 0; k < g.K; ++k) {
        double s = 0.0;
        for (int64_t n = n0; n < n1; ++n) {
          s += sum_floats<V>(dy + (n * g.K + k) * PQ, PQ);
        }
        my_db[k] = static_cast<float>(s);
      }
    }
    if (direct) {
      float* xp = scratch(Scratch::a, g.C * band.bplane + g.S + V::W);
      float* dyw = scratch(Scratch::b, g.K * band.rows * Wp);
      std::memset(xp + g.C * band.bplane, 0, (g.S + V::W) * sizeof(float));
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t p0 = 0; p0 < g.P; p0 += band.rows) {
          const int64_t nr = std::min(band.rows, g.P - p0), M = nr * Wp;
          for (int64_t c = 0; c < g.C; ++c) {
            pad_plane(x + (n * g.C + c) * g.H * g.W, g.H, g.W, xp + c * band.bplane, nr + g.R - 1,
                      Wp, g.pad_top - p0, g.pad_left);
          }
          // dy rows, widened to Wp with zeros in the junk columns.
          for (int64_t k = 0; k < g.K; ++k) {
            pad_plane(dy + (n * g.K + k) * PQ + p0 * g.Q, nr, g.Q, dyw + k * M, nr, Wp, 0, 0);
          }
          GemmNT gg;
          gg.M = g.K, gg.N = CRS, gg.L = M, gg.A = dyw, gg.lda = M, gg.B = xp, gg.boff = off,
          gg.C = my_dw, gg.ldc = CRS, gg.accumulate = n > n0 || p0 > 0;
          gemm_nt<V, Cfg>(gg, inner);
        }
      }
    } else {
      // Stacks of nb images side by side: col (CRS, nb*PQ) and dy (K, nb*PQ), the row length
      // rounded up to whole vectors with zeros (no masked tail in the microkernel).
      float* col = scratch(Scratch::a, CRS * stack.ld);
      float* dys = scratch(Scratch::b, g.K * stack.ld);
      // db from the copy of dy (one read of dy; the 4.3 MB gradient of the lecture net's conv 1
      // was read twice): the same sums, in the same order, as the direct path's.
      double* sums = db_sums + tid * g.K;
      std::fill(sums, sums + g.K, 0.0);
      for (int64_t s0 = n0; s0 < n1; s0 += stack.images) {
        const int64_t nb = std::min(stack.images, n1 - s0), L = nb * PQ;
        const int64_t Lv = (L + V::W - 1) / V::W * V::W;
        if (nb == 1) {
          // One image: dy's rows are already the stack's rows, so the GEMM reads them in place
          // (its masked tail is 7 loads a block here) instead of a 4.3 MB copy for the lecture
          // net's conv 1 at batch 64; db sums them as the copy did.
          const float* dyn = dy + s0 * g.K * PQ;
          im2col<V>(g, x + s0 * g.C * g.H * g.W, col, stack.ld);
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
          im2col<V>(g, x + (s0 + i) * g.C * g.H * g.W, col + i * PQ, stack.ld);
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
        gg.M = g.K, gg.N = CRS, gg.L = Lv, gg.A = dys, gg.lda = stack.ld, gg.B = col,
        gg.ldb = stack.ld, gg.C = my_dw, gg.ldc = CRS, gg.accumulate = s0 > n0;
        gemm_nt<V, Cfg>(gg, inner);
      }
      if (my_db) {
        for (int64_t k = 0; k < g.K; ++k) my_db[k] = static_cast<float>(sums[k]);
      }
    }
  });
  // Fixed-order reduction over threads.
  for (int t = 1; t < used; ++t) {
    const float* p = partials + (t - 1) * part;
    for (int64_t i = 0; i < KCRS; ++i) dw[i] += p[i];
    if (db) {
      for (int64_t k = 0; k < g.K; ++k) db[k] += p[KCRS + k];
    }
  }
}

template <class V, class Cfg>
void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* db, int threads) {
  conv2d_backward_weight_algo<V, Cfg>(g, x, dy, dw, db, threads, ConvAlgo::automatic);
}

// Both gradients of a layer (dx or dw may be null; db may be null). Where Winograd takes both,
// one pass makes the output-gradient transform once for the two.
// saved (may be null): what conv2d_forward_algo saved for this layer and batch (x is then not
// read).
template <class V, class Cfg>
void conv2d_backward_algo(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db, int threads, ConvAlgo algo,
                          const float* saved = nullptr) {
  if (dw && use_winograd4_training<V>(algo, g) && g.P * g.Q > 0 && g.C * g.K > 0) {
    winograd4_backward<V, Cfg>(x, w, dy, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, g.K, g.P, g.Q,
                               dx, dw, db, threads, saved);
    return;
  }
  if (algo == ConvAlgo::winograd4) algo = ConvAlgo::winograd;
  if (dw && use_winograd(algo, g) && g.N > 0 && g.P * g.Q > 0 && g.C * g.K > 0) {
    winograd_backward<V, Cfg>(x, w, dy, g.N, g.C, g.H, g.W, g.pad_top, g.pad_left, g.K, g.P, g.Q,
                              dx, dw, db, threads, 0, saved);
    return;
  }
  if (dx) conv2d_backward_input<V, Cfg>(g, dy, w, dx, threads);
  if (dw) conv2d_backward_weight_algo<V, Cfg>(g, x, dy, dw, db, threads, algo);
}

template <class V, class Cfg>
void conv2d_backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, int threads, const float* saved = nullptr) {
  conv2d_backward_algo<V, Cfg>(g, x, w, dy, dx, dw, db, threads, ConvAlgo::automatic, saved);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
