// 3x3 depthwise convolution over a vector type V, compiled once per ISA (depthwise3x3_<isa>.cpp).
// Each (sample, input channel) plane is first copied into a per-thread zero-padded buffer holding
// exactly the rows and columns the outputs read, its columns split into `stride_w` phase rows
// (column j * stride_w + phase at [phase][j]). Tap (r, s) of the outputs q .. q + V::W - 1 of row p
// then reads V::W consecutive floats, [row p * stride_h + r][phase s % stride_w][q + s / stride_w],
// for stride 1 and 2 alike: no bounds tests, no gathers in the inner loops.
// - forward: threads over planes; each output row is V::W-wide blocks of 9 FMAs.
// - input gradient: per plane, gathered from the dy rows (copied with zero margins) into a padded
//   phase-split buffer, summed over the depth multiplier, then the interior copied out.
// - weight gradient: threads over channels (every dw element summed by one thread, samples in
//   order): 9 + 1 vector accumulators per plane, their lane sums added to doubles.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/conv/conv_grouped.h"
#include "kernels/depthwise/depthwise3x3.h"
#include "kernels/runtime/parallel.h"
#include "kernels/runtime/workspace.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// The padded, phase-split buffer of one plane.
struct PaddedPlane {
  int64_t rows;  // (P - 1) * stride_h + 3
  int64_t cols;  // (Q - 1) * stride_w + 3
  int64_t L;     // floats per phase row: Q rounded up to the vector width, + 2 for the taps
  int64_t RS;    // floats per row: stride_w * L
  int64_t size() const { return rows * RS; }
  // Offset of padded column `col` in its row.
  int64_t at(int64_t col, int64_t sw) const { return (col % sw) * L + col / sw; }
};

template <class V>
PaddedPlane padded_plane(const GroupedConvGeometry& g) {
  PaddedPlane pp;
  pp.rows = (g.P - 1) * g.stride_h + 3;
  pp.cols = (g.Q - 1) * g.stride_w + 3;
  pp.L = (g.Q + V::W - 1) / V::W * V::W + 2;
  pp.RS = g.stride_w * pp.L;
  return pp;
}

// Copies plane x (H, W) into buf (zeroed first, padding included).
inline void fill_padded(const GroupedConvGeometry& g, const PaddedPlane& pp, const float* x,
                        float* buf) {
  std::fill(buf, buf + pp.size(), 0.0f);
  const int64_t iw_end = std::min(g.W, pp.cols - g.pad_left);
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const int64_t row = ih + g.pad_top;
    if (row >= pp.rows) break;
    float* dst = buf + row * pp.RS;
    const float* src = x + ih * g.W;
    if (g.stride_w == 1) {
      std::memcpy(dst + g.pad_left, src, static_cast<size_t>(iw_end) * sizeof(float));
      continue;
    }
    for (int64_t iw = 0; iw < iw_end; ++iw) dst[pp.at(iw + g.pad_left, 2)] = src[iw];
  }
}

// Offsets of the 9 taps inside a padded row block: tap (r, s) of output column q is at
// row (p * stride_h + r), offset tap[r * 3 + s] + q.
inline void tap_offsets(const GroupedConvGeometry& g, const PaddedPlane& pp, int64_t* tap) {
  for (int r = 0; r < 3; ++r)
    for (int s = 0; s < 3; ++s) tap[r * 3 + s] = r * pp.RS + pp.at(s, g.stride_w);
}

template <class V>
inline typename V::R load_n(const float* p, int n) {
  return n == V::W ? V::load(p) : V::load_partial(p, n);
}

template <class V>
inline void store_n(float* p, typename V::R v, int n) {
  if (n == V::W) {
    V::store(p, v);
  } else {
    V::store_partial(p, v, n);
  }
}

double depthwise_flops(const GroupedConvGeometry& g) {
  return 18.0 * g.N * g.K * g.P * g.Q;
}

// One output plane y (P, Q) from the padded input plane and the 9 weights wk.
template <class V>
void forward_plane(const GroupedConvGeometry& g, const PaddedPlane& pp, const int64_t* tap,
                   const float* buf, const float* wk, float bias, float* y) {
  using R = typename V::R;
  R wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = V::set1(wk[i]);
  for (int64_t p = 0; p < g.P; ++p) {
    const float* row = buf + p * g.stride_h * pp.RS;
    for (int64_t q = 0; q < g.Q; q += V::W) {
      R acc = V::set1(bias);
      for (int i = 0; i < 9; ++i) acc = V::fmadd(V::load(row + tap[i] + q), wv[i], acc);
      store_n<V>(y + p * g.Q + q, acc, static_cast<int>(std::min<int64_t>(V::W, g.Q - q)));
    }
  }
}

template <class V>
void depthwise3x3_forward(const GroupedConvGeometry& g, const float* x, const float* w,
                          const float* b, float* y, int threads) {
  const PaddedPlane pp = padded_plane<V>(g);
  int64_t tap[9];
  tap_offsets(g, pp, tap);
  const int64_t mult = g.K / g.C, plane_in = g.H * g.W, plane_out = g.P * g.Q;
  const int nt = threads_for(g.N * g.C, depthwise_flops(g), threads);
  parallel_for(g.N * g.C, nt, [&](int64_t a, int64_t e) {
    float* buf = scratch(Scratch::a, static_cast<size_t>(pp.size() + V::W));
    for (int64_t nc = a; nc < e; ++nc) {
      const int64_t n = nc / g.C, c = nc % g.C;
      fill_padded(g, pp, x + nc * plane_in, buf);
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t k = c * mult + m;
        forward_plane<V>(g, pp, tap, buf, w + k * 9, b ? b[k] : 0.0f,
                         y + (n * g.K + k) * plane_out);
      }
    }
  });
}

// The input gradient is gathered, not scattered (read-modify-write stores to overlapping
// addresses one float apart stall store-to-load forwarding: 8x slower here). Padded input column
// col = j * stride_w + phase of padded row `row` receives dy[p][j - s / stride_w] * w[r][s] for
// every tap with p * stride_h + r = row and s % stride_w = phase. The dy rows are copied with 2
// leading zeros (j - s / stride_w >= -2) and zeros past Q, so every load is in bounds.
struct GatherPlane {
  int64_t LD;   // gradient floats per phase row: the Q + 2 columns rounded up to the vector width
  int64_t DYL;  // floats per padded dy row: 2 zeros, Q values, zeros up to LD + 2
};

template <class V>
GatherPlane gather_plane(const GroupedConvGeometry& g) {
  const int64_t ld = (g.Q + 2 + V::W - 1) / V::W * V::W;
  return {ld, ld + 2};
}

// dy plane (P, Q) -> rows of DYL floats with 2 leading zeros.
inline void fill_dy_rows(const GroupedConvGeometry& g, const GatherPlane& gp, const float* dy,
                         float* rows) {
  std::fill(rows, rows + g.P * gp.DYL, 0.0f);
  for (int64_t p = 0; p < g.P; ++p) {
    std::memcpy(rows + p * gp.DYL + 2, dy + p * g.Q, static_cast<size_t>(g.Q) * sizeof(float));
  }
}

// grad (rows x stride_w x LD) = (or +=, with `add`) the input gradient of one dy plane. The taps
// reaching a padded row and phase are listed once per row, outside the vector loop.
template <class V>
void gather_plane_grad(const GroupedConvGeometry& g, const PaddedPlane& pp, const GatherPlane& gp,
                       const float* dyrows, const float* wk, bool add, float* grad) {
  using R = typename V::R;
  R wv[9];
  for (int i = 0; i < 9; ++i) wv[i] = V::set1(wk[i]);
  for (int64_t row = 0; row < pp.rows; ++row) {
    for (int64_t ph = 0; ph < g.stride_w; ++ph) {
      const float* src[9];  // dy row + 2 - s / stride_w, per tap
      const R* w[9];
      int taps = 0;
      for (int64_t r = 0; r < 3; ++r) {
        const int64_t pr = row - r;
        if (pr < 0 || pr % g.stride_h != 0 || pr / g.stride_h >= g.P) continue;
        for (int64_t s = ph; s < 3; s += g.stride_w, ++taps) {
          src[taps] = dyrows + (pr / g.stride_h) * gp.DYL + 2 - s / g.stride_w;
          w[taps] = &wv[r * 3 + s];
        }
      }
      float* out = grad + (row * g.stride_w + ph) * gp.LD;
      for (int64_t j = 0; j < gp.LD; j += V::W) {
        R acc = add ? V::load(out + j) : V::zero();
        for (int t = 0; t < taps; ++t) acc = V::fmadd(V::load(src[t] + j), *w[t], acc);
        V::store(out + j, acc);
      }
    }
  }
}

// dx (H, W) = the interior of the gathered gradient (zero where no output reads the input).
inline void copy_interior(const GroupedConvGeometry& g, const PaddedPlane& pp,
                          const GatherPlane& gp, const float* grad, float* dx) {
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const int64_t row = ih + g.pad_top;
    float* dst = dx + ih * g.W;
    const int64_t iw_end = row < pp.rows ? std::min(g.W, pp.cols - g.pad_left) : 0;
    const float* src = grad + row * g.stride_w * gp.LD;
    if (g.stride_w == 1) {
      std::memcpy(dst, src + g.pad_left, static_cast<size_t>(iw_end) * sizeof(float));
    } else {
      for (int64_t iw = 0; iw < iw_end; ++iw) {
        const int64_t col = iw + g.pad_left;
        dst[iw] = src[(col & 1) * gp.LD + (col >> 1)];
      }
    }
    std::fill(dst + iw_end, dst + g.W, 0.0f);
  }
}

template <class V>
void depthwise3x3_backward_input(const GroupedConvGeometry& g, const float* w, const float* dy,
                                 float* dx, int threads) {
  const PaddedPlane pp = padded_plane<V>(g);
  const GatherPlane gp = gather_plane<V>(g);
  const int64_t mult = g.K / g.C, plane_in = g.H * g.W, plane_out = g.P * g.Q;
  const int64_t grad_floats = pp.rows * g.stride_w * gp.LD, dy_floats = g.P * gp.DYL + V::W;
  const int nt = threads_for(g.N * g.C, depthwise_flops(g), threads);
  parallel_for(g.N * g.C, nt, [&](int64_t a, int64_t e) {
    float* grad = scratch(Scratch::a, static_cast<size_t>(grad_floats));
    float* dyrows = scratch(Scratch::b, static_cast<size_t>(dy_floats));
    for (int64_t nc = a; nc < e; ++nc) {
      const int64_t n = nc / g.C, c = nc % g.C;
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t k = c * mult + m;
        fill_dy_rows(g, gp, dy + (n * g.K + k) * plane_out, dyrows);
        gather_plane_grad<V>(g, pp, gp, dyrows, w + k * 9, m > 0, grad);
      }
      copy_interior(g, pp, gp, grad, dx + nc * plane_in);
    }
  });
}

// acc[0..8] += dy * (tap i of the padded input plane), acc[9] += dy, over one plane.
template <class V>
void weight_grad_plane(const GroupedConvGeometry& g, const PaddedPlane& pp, const int64_t* tap,
                       const float* buf, const float* dy, double* dw, double* db) {
  using R = typename V::R;
  R acc[9];
  for (R& a : acc) a = V::zero();
  R bias = V::zero();
  for (int64_t p = 0; p < g.P; ++p) {
    const float* row = buf + p * g.stride_h * pp.RS;
    for (int64_t q = 0; q < g.Q; q += V::W) {
      const R d = load_n<V>(dy + p * g.Q + q, static_cast<int>(std::min<int64_t>(V::W, g.Q - q)));
      bias = V::add(bias, d);
      for (int i = 0; i < 9; ++i) acc[i] = V::fmadd(d, V::load(row + tap[i] + q), acc[i]);
    }
  }
  for (int i = 0; i < 9; ++i) dw[i] += V::hsum(acc[i]);
  *db += V::hsum(bias);
}

template <class V>
void depthwise3x3_backward_weight(const GroupedConvGeometry& g, const float* x, const float* dy,
                                  float* dw, float* db, int threads) {
  const PaddedPlane pp = padded_plane<V>(g);
  int64_t tap[9];
  tap_offsets(g, pp, tap);
  const int64_t mult = g.K / g.C, plane_in = g.H * g.W, plane_out = g.P * g.Q;
  const int nt = threads_for(g.C, depthwise_flops(g), threads);
  parallel_for(g.C, nt, [&](int64_t a, int64_t e) {
    float* buf = scratch(Scratch::a, static_cast<size_t>(pp.size() + V::W));
    for (int64_t c = a; c < e; ++c) {
      // Per output channel of this input channel: 9 weight sums and the bias sum.
      double sums[64][10];  // mult <= 64 per pass
      for (int64_t m0 = 0; m0 < mult; m0 += 64) {
        const int64_t m1 = std::min<int64_t>(mult, m0 + 64);
        for (int64_t m = m0; m < m1; ++m) std::fill(sums[m - m0], sums[m - m0] + 10, 0.0);
        for (int64_t n = 0; n < g.N; ++n) {
          fill_padded(g, pp, x + (n * g.C + c) * plane_in, buf);
          for (int64_t m = m0; m < m1; ++m) {
            const int64_t k = c * mult + m;
            weight_grad_plane<V>(g, pp, tap, buf, dy + (n * g.K + k) * plane_out, sums[m - m0],
                                 &sums[m - m0][9]);
          }
        }
        for (int64_t m = m0; m < m1; ++m) {
          const int64_t k = c * mult + m;
          if (dw) {
            for (int i = 0; i < 9; ++i) dw[k * 9 + i] = static_cast<float>(sums[m - m0][i]);
          }
          if (db) db[k] = static_cast<float>(sums[m - m0][9]);
        }
      }
    }
  });
}

template <class V>
const DepthwiseKernels& depthwise_kernel_table() {
  static const DepthwiseKernels t{&depthwise3x3_forward<V>, &depthwise3x3_backward_input<V>,
                                  &depthwise3x3_backward_weight<V>};
  return t;
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
