// The strided input gradient as one stride-1 correlation per phase (sub-pixel decomposition).
// An input row h takes only the taps r = ra + sh*u with ra = (h + pad_top) mod sh, from output
// row i - u where h = sh*i + ra - pad_top (columns alike, residue sb), so
//   dx[c, sh*i + ra - pt, sw*j + sb - pl]
//     = sum_{k,u,v} w[k, c, ra + sh*u, sb + sw*v] * dy[k, i - u, j - v],
// the correlation of dy (K channels, P x Q) with the flipped sub-kernel wf[c, k, Ra-1-u, Sb-1-v]
// padded by Ra - 1 - (first i) rows and Sb - 1 - (first j) columns. Every phase runs on the
// blocked direct kernel (conv_direct_blocked_impl.h), on the useful FMAs only, and stores its
// pixels straight to their places in dx. The col path (col = w^T dy, then R*S shifted rows of col
// added into phase planes and those scattered into dx) spent 1.8x its GEMM's time in that scatter
// on allconv's 32->64 3x3 s2 layer (AVX-512, batch 128).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv_direct_blocked_impl.h"
#include "kernels/conv/conv_strided_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// One residue of one axis: input indices h = stride * i + residue - pad for i in [lo, hi] lie in
// [0, extent); the phase convolution computes i in [first, first + count), a superset that keeps
// its padding non-negative (first <= taps - 1, first + count >= the output extent).
struct PhaseAxis {
  int64_t taps;    // sub-kernel extent: the taps residue, residue + stride, ... below the kernel's
  int64_t lo, hi;  // i whose input index is inside the image (hi < lo: none)
  int64_t first, count;
};

inline PhaseAxis phase_axis(int64_t residue, int64_t stride, int64_t kernel, int64_t pad,
                            int64_t extent, int64_t out_extent) {
  PhaseAxis a{};
  a.taps = residue < kernel ? (kernel - residue + stride - 1) / stride : 0;
  a.lo = -floor_div(residue - pad, stride);  // ceil((pad - residue) / stride) >= 0
  a.hi = floor_div(extent - 1 + pad - residue, stride);
  if (a.taps == 0 || a.hi < a.lo) return a;
  a.first = std::min(a.lo, a.taps - 1);
  a.count = std::max(a.hi, out_extent - 1) - a.first + 1;
  return a;
}

struct DgradPhase {
  PhaseAxis rows, cols;
  int64_t ra, sb;
  Conv2dGeometry g;  // the phase's correlation of dy (N unused)
  int64_t w_at;      // its flipped sub-kernel (C, K, Ra, Sb) in the weights buffer
};

struct DgradPhases {
  std::vector<DgradPhase> phases;
  bool covers_dx = true;  // every input pixel in some phase (else the rest are zeroed)
  int64_t weight_floats = 0;
};

inline DgradPhases make_dgrad_phases(const Conv2dGeometry& g) {
  DgradPhases d;
  d.covers_dx = g.stride_h <= g.R && g.stride_w <= g.S;
  for (int64_t ra = 0; ra < row_phases(g); ++ra)
    for (int64_t sb = 0; sb < col_phases(g); ++sb) {
      DgradPhase ph{};
      ph.ra = ra, ph.sb = sb;
      ph.rows = phase_axis(ra, g.stride_h, g.R, g.pad_top, g.H, g.P);
      ph.cols = phase_axis(sb, g.stride_w, g.S, g.pad_left, g.W, g.Q);
      if (ph.rows.hi < ph.rows.lo || ph.cols.hi < ph.cols.lo) continue;  // no pixel of dx
      Conv2dGeometry& f = ph.g;
      f.N = 0, f.C = g.K, f.H = g.P, f.W = g.Q, f.K = g.C, f.R = ph.rows.taps, f.S = ph.cols.taps;
      f.P = ph.rows.count, f.Q = ph.cols.count, f.stride_h = f.stride_w = 1;
      f.pad_top = f.R - 1 - ph.rows.first, f.pad_left = f.S - 1 - ph.cols.first;
      ph.w_at = d.weight_floats;
      d.weight_floats += g.C * g.K * f.R * f.S;
      d.phases.push_back(ph);
    }
  return d;
}

// The phase's flipped sub-kernel: wf[c, k, u', v'] = w[k, c, ra + sh (Ra-1-u'), sb + sw (Sb-1-v')].
inline void dgrad_phase_weights(const Conv2dGeometry& g, const DgradPhase& ph, const float* w,
                                float* wf) {
  const int64_t Ra = ph.g.R, Sb = ph.g.S;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t u = 0; u < Ra; ++u)
        for (int64_t v = 0; v < Sb; ++v) {
          const int64_t r = ph.ra + g.stride_h * (Ra - 1 - u),
                        s = ph.sb + g.stride_w * (Sb - 1 - v);
          wf[((c * g.K + k) * Ra + u) * Sb + v] = w[((k * g.C + c) * g.R + r) * g.S + s];
        }
}

// The blocked direct kernel on every phase of an image at once: dy padded once (by the largest
// of the phases' paddings), each phase's tiles stored straight to their
// pixels in a pixel-major copy of dx (a phase row is sh dx rows on, a column sw pixels), which a
// register transpose per dx row and channel block then writes as NCHW. Against one forward call
// per phase: no per-phase padded copy of dy, no per-phase transpose, no interleaving pass.
struct DgradDirect {
  int kv = 0;                     // vectors of dx channels per block, the same for every phase
  std::vector<DirectTile> tiles;  // per phase
  int64_t top = 0, left = 0;      // dy's padding in the shared copy
  DirectPlanes d{};               // the shared padded copy of dy, one plane per channel
  int64_t h0 = 0, w0 = 0, Hx = 0, Wx = 0;  // dx pixel buffer: rows h0 .., columns w0 ..
};

// kv == 0: does not apply (col takes the layer): some phase's output is smaller than every
// tile, or a padding as large as the kernel (the pixel buffer spans the padded input: bounded by
// the kernel, not by the padding, which may be 4096).
template <class V>
DgradDirect make_dgrad_direct(const Conv2dGeometry& g, const DgradPhases& ph) {
  DgradDirect dd;
  const int64_t pad_bottom = (g.P - 1) * g.stride_h + g.R - g.H - g.pad_top;
  const int64_t pad_right = (g.Q - 1) * g.stride_w + g.S - g.W - g.pad_left;
  if (ph.phases.empty() || g.pad_top >= g.R || g.pad_left >= g.S || pad_bottom >= g.R ||
      pad_right >= g.S) {
    return dd;
  }
  const int kv = direct_choose_tile<V>(ph.phases[0].g).kv;
  int64_t bottom = 0, right = 0, h1 = g.H, w1 = g.W;
  for (const DgradPhase& p : ph.phases) {
    const DirectTile t = direct_choose_tile<V>(p.g, kv);
    if (kv == 0 || t.kv == 0) return dd;
    dd.tiles.push_back(t);
    dd.top = std::max(dd.top, p.g.pad_top), dd.left = std::max(dd.left, p.g.pad_left);
    bottom = std::max(bottom, p.g.P + p.g.R - 1 - p.g.pad_top - g.P);
    right = std::max(right, p.g.Q + p.g.S - 1 - p.g.pad_left - g.Q);
    const int64_t hf = g.stride_h * p.rows.first + p.ra - g.pad_top;
    const int64_t wf = g.stride_w * p.cols.first + p.sb - g.pad_left;
    dd.h0 = std::min(dd.h0, hf), dd.w0 = std::min(dd.w0, wf);
    h1 = std::max(h1, hf + g.stride_h * (p.rows.count - 1) + 1);
    w1 = std::max(w1, wf + g.stride_w * (p.cols.count - 1) + 1);
  }
  dd.kv = kv;
  dd.d.Hp = dd.top + g.P + bottom, dd.d.Wp = dd.left + g.Q + right;
  dd.d.plane = dd.d.Hp * dd.d.Wp;
  dd.Hx = h1 - dd.h0, dd.Wx = w1 - dd.w0;
  return dd;
}

template <class V>
void conv2d_backward_input_phases_direct(const Conv2dGeometry& g, const DgradPhases& ph,
                                         const DgradDirect& dd, const float* wf, const float* dy,
                                         float* dx, int threads) {
  constexpr int W = V::W;
  const int64_t KB = dd.kv * W, blocks = (g.C + KB - 1) / KB, np = ph.phases.size();
  const int64_t HW = g.H * g.W, CHW = g.C * HW, KPQ = g.K * g.P * g.Q;
  // Shared: each phase's tap offsets (int64, first: 64-byte aligned) and packed weights, then
  // a zero bias.
  std::vector<int64_t> off_at(np), wp_at(np);
  int64_t n_off = 0, n_wp = 0;
  for (int64_t i = 0; i < np; ++i) {
    const Conv2dGeometry& f = ph.phases[i].g;
    off_at[i] = n_off, wp_at[i] = n_wp;
    n_off += f.C * f.R * f.S, n_wp += direct_packed_floats<V>(f, dd.kv);
  }
  float* shared = scratch(Scratch::c, 2 * n_off + n_wp + KB * blocks);
  auto* off = reinterpret_cast<int64_t*>(shared);
  float* wp = shared + 2 * n_off;
  float* zero = wp + n_wp;
  std::fill(zero, zero + KB * blocks, 0.0f);
  for (int64_t i = 0; i < np; ++i) {
    const DgradPhase& p = ph.phases[i];
    const Conv2dGeometry& f = p.g;
    int64_t* o = off + off_at[i];
    for (int64_t k = 0; k < f.C; ++k)
      for (int64_t u = 0; u < f.R; ++u)
        for (int64_t v = 0; v < f.S; ++v)
          o[(k * f.R + u) * f.S + v] = k * dd.d.plane + u * dd.d.Wp + v;
    pack_direct_weights<V>(f, dd.kv, wf + p.w_at, wp + wp_at[i]);
  }
  const int64_t yb_floats = dd.Hx * dd.Wx * KB + W * KB;  // + the transpose's whole blocks
  // The channel blocks [kb0, kb1) of one image's dx from its padded dy xp.
  const auto image_blocks = [&](const float* xp, int64_t kb0, int64_t kb1, float* dxn) {
    float* yb = scratch(Scratch::b, yb_floats);
    for (int64_t kb = kb0; kb < kb1; ++kb) {
      if (!ph.covers_dx) std::memset(yb, 0, yb_floats * sizeof(float));
      for (int64_t i = 0; i < np; ++i) {
        const DgradPhase& p = ph.phases[i];
        const int64_t hf = g.stride_h * p.rows.first + p.ra - g.pad_top - dd.h0;
        const int64_t wf0 = g.stride_w * p.cols.first + p.sb - g.pad_left - dd.w0;
        DirectBuffers buf{xp + (dd.top - p.g.pad_top) * dd.d.Wp + (dd.left - p.g.pad_left),
                          off + off_at[i], yb + (hf * dd.Wx + wf0) * KB};
        buf.yb_row = g.stride_h * dd.Wx * KB, buf.yb_col = g.stride_w * KB;
        direct_blocks_for<V>(dd.tiles[i], 1)(p.g, dd.d, buf, wp + wp_at[i], zero, kb, kb + 1,
                                             Activation::none, nullptr);
      }
      const int64_t kvalid = std::min<int64_t>(KB, g.C - kb * KB);
      for (int64_t h = 0; h < g.H; ++h) {
        direct_transpose_out<V>(yb + ((h - dd.h0) * dd.Wx - dd.w0) * KB, KB, kvalid, g.W, HW,
                                dxn + kb * KB * HW + h * g.W);
      }
    }
  };
  int outer, inner;
  split_threads(g.N, 2.0 * g.N * g.K * g.C * g.R * g.S * g.P * g.Q, threads, &outer, &inner);
  inner = static_cast<int>(std::min<int64_t>(inner, blocks));
  parallel_for(g.N, outer, [&](int64_t n0, int64_t n1) {
    float* xp = scratch(Scratch::a, g.K * dd.d.plane + W);
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t k = 0; k < g.K; ++k) {
        pad_plane(dy + n * KPQ + k * g.P * g.Q, g.P, g.Q, xp + k * dd.d.plane, dd.d.Hp, dd.d.Wp,
                  dd.top, dd.left);
      }
      if (inner <= 1) {
        image_blocks(xp, 0, blocks, dx + n * CHW);
        continue;
      }
      parallel_for(blocks, inner,
                   [&](int64_t kb0, int64_t kb1) { image_blocks(xp, kb0, kb1, dx + n * CHW); });
    }
  });
}

// Whether the phases apply (the blocked kernel's tiles fit every phase's output), and how.
struct DgradPhasePlan {
  DgradPhases phases;
  DgradDirect direct;
  bool applies() const { return direct.kv != 0; }
};

template <class V>
DgradPhasePlan make_dgrad_phase_plan(const Conv2dGeometry& g) {
  DgradPhasePlan p;
  p.phases = make_dgrad_phases(g);
  p.direct = make_dgrad_direct<V>(g, p.phases);
  return p;
}

// dx = the input gradient of a strided layer, p.applies() must hold.
template <class V>
void conv2d_backward_input_phases(const Conv2dGeometry& g, const DgradPhasePlan& p, const float* dy,
                                  const float* w, float* dx, int threads) {
  std::vector<float> wf(static_cast<size_t>(p.phases.weight_floats));
  for (const DgradPhase& ph : p.phases.phases) dgrad_phase_weights(g, ph, w, wf.data() + ph.w_at);
  conv2d_backward_input_phases_direct<V>(g, p.phases, p.direct, wf.data(), dy, dx, threads);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
