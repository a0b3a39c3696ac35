// Direct convolution loops. Loop order (n, k, c, r, s, p, q): for one weight tap (k, c, r, s) the
// innermost q loop walks one output row and one input row, so it reads and writes memory in order
// (contiguous when stride_w == 1) instead of gathering a whole window per output element.
#include "kernels/conv/conv2d_ref.h"

#include <algorithm>

namespace pocketcnn::kernels {

namespace {

// The output positions o in [0, out) whose input position o * stride + offset lies in [0, in):
// returns [lo, hi) (empty when lo >= hi). offset = tap - pad_before, so the taps that fall into
// the padding are skipped by the loop bounds, not by a branch per element.
struct Range {
  int64_t lo, hi;
};
Range valid_outputs(int64_t out, int64_t stride, int64_t offset, int64_t in) {
  // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride) = (-offset - 1) / stride + 1
  // (written so that a huge stride cannot overflow)
  const int64_t lo = offset >= 0 ? 0 : (-offset - 1) / stride + 1;
  // o * stride + offset <= in - 1  <=>  o <= floor((in - 1 - offset) / stride)
  const int64_t last_in = in - 1 - offset;
  const int64_t hi = last_in < 0 ? 0 : std::min(out, last_in / stride + 1);
  return {std::min(lo, out), hi};
}

}  // namespace

void conv2d_forward_ref(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                        float* y) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q, RS = g.R * g.S;
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t k = 0; k < g.K; ++k) {
      float* y_nk = y + (n * g.K + k) * PQ;
      const float bias = b ? b[k] : 0.0f;
      for (int64_t i = 0; i < PQ; ++i) y_nk[i] = bias;
      for (int64_t c = 0; c < g.C; ++c) {
        const float* x_nc = x + (n * g.C + c) * HW;
        const float* w_kc = w + (k * g.C + c) * RS;
        for (int64_t r = 0; r < g.R; ++r) {
          const Range ps = valid_outputs(g.P, g.stride_h, r - g.pad_top, g.H);
          for (int64_t s = 0; s < g.S; ++s) {
            const float wv = w_kc[r * g.S + s];
            const Range qs = valid_outputs(g.Q, g.stride_w, s - g.pad_left, g.W);
            for (int64_t p = ps.lo; p < ps.hi; ++p) {
              const float* x_row = x_nc + (p * g.stride_h + r - g.pad_top) * g.W;
              float* y_row = y_nk + p * g.Q;
              for (int64_t q = qs.lo; q < qs.hi; ++q) {
                y_row[q] += wv * x_row[q * g.stride_w + s - g.pad_left];
              }
            }
          }
        }
      }
    }
  }
}

void conv2d_backward_input_ref(const Conv2dGeometry& g, const float* dy, const float* w,
                               float* dx) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q, RS = g.R * g.S;
  for (int64_t i = 0; i < g.N * g.C * HW; ++i) dx[i] = 0.0f;
  // Every forward product y[n,k,p,q] += w[k,c,r,s] * x[n,c,h,v] becomes
  // dx[n,c,h,v] += w[k,c,r,s] * dy[n,k,p,q], over the same index set in the same order.
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t k = 0; k < g.K; ++k) {
      const float* dy_nk = dy + (n * g.K + k) * PQ;
      for (int64_t c = 0; c < g.C; ++c) {
        float* dx_nc = dx + (n * g.C + c) * HW;
        const float* w_kc = w + (k * g.C + c) * RS;
        for (int64_t r = 0; r < g.R; ++r) {
          const Range ps = valid_outputs(g.P, g.stride_h, r - g.pad_top, g.H);
          for (int64_t s = 0; s < g.S; ++s) {
            const float wv = w_kc[r * g.S + s];
            const Range qs = valid_outputs(g.Q, g.stride_w, s - g.pad_left, g.W);
            for (int64_t p = ps.lo; p < ps.hi; ++p) {
              float* dx_row = dx_nc + (p * g.stride_h + r - g.pad_top) * g.W;
              const float* dy_row = dy_nk + p * g.Q;
              for (int64_t q = qs.lo; q < qs.hi; ++q) {
                dx_row[q * g.stride_w + s - g.pad_left] += wv * dy_row[q];
              }
            }
          }
        }
      }
    }
  }
}

void conv2d_backward_weight_ref(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                                float* db) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q, RS = g.R * g.S;
  for (int64_t i = 0; i < g.K * g.C * RS; ++i) dw[i] = 0.0f;
  if (db) {
    for (int64_t k = 0; k < g.K; ++k) db[k] = 0.0f;
  }
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t k = 0; k < g.K; ++k) {
      const float* dy_nk = dy + (n * g.K + k) * PQ;
      if (db) {
        for (int64_t i = 0; i < PQ; ++i) db[k] += dy_nk[i];
      }
      for (int64_t c = 0; c < g.C; ++c) {
        const float* x_nc = x + (n * g.C + c) * HW;
        float* dw_kc = dw + (k * g.C + c) * RS;
        for (int64_t r = 0; r < g.R; ++r) {
          const Range ps = valid_outputs(g.P, g.stride_h, r - g.pad_top, g.H);
          for (int64_t s = 0; s < g.S; ++s) {
            const Range qs = valid_outputs(g.Q, g.stride_w, s - g.pad_left, g.W);
            float acc = 0.0f;
            for (int64_t p = ps.lo; p < ps.hi; ++p) {
              const float* x_row = x_nc + (p * g.stride_h + r - g.pad_top) * g.W;
              const float* dy_row = dy_nk + p * g.Q;
              for (int64_t q = qs.lo; q < qs.hi; ++q) {
                acc += dy_row[q] * x_row[q * g.stride_w + s - g.pad_left];
              }
            }
            dw_kc[r * g.S + s] += acc;
          }
        }
      }
    }
  }
}

}  // namespace pocketcnn::kernels
