// Pooling loops: one window per output element, clipped to the input (padding is never read), rows
// outer and the contiguous column index innermost.
#include "kernels/pool2d_ref.h"

#include <algorithm>
#include <cmath>

namespace pocketcnn::kernels {

namespace {

// The part of output (p, q)'s window that lies inside the input: rows [h0, h1), columns [w0, w1).
// The op guarantees (pad <= kernel / 2, H, W >= 1) that this is never empty.
struct Window {
  int64_t h0, h1, w0, w1;
};
Window window_at(const Pool2dGeometry& g, int64_t p, int64_t q) {
  const int64_t hs = p * g.stride_h - g.pad_h, ws = q * g.stride_w - g.pad_w;
  return {std::max<int64_t>(hs, 0), std::min(hs + g.kernel_h, g.H), std::max<int64_t>(ws, 0),
          std::min(ws + g.kernel_w, g.W)};
}

float divisor(const Pool2dGeometry& g, const Window& win, bool count_include_pad) {
  // In double: kernel_h * kernel_w overflows int64 for windows of 2^32 x 2^32 (which the padding
  // rules allow on a 1x1 input), and a wrapped divisor of 0 made the mean inf.
  return count_include_pad
             ? static_cast<float>(static_cast<double>(g.kernel_h) * static_cast<double>(g.kernel_w))
             : static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
}

}  // namespace

void max_pool2d_forward_ref(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const float* x_nc = x + nc * HW;
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const Window win = window_at(g, p, q);
        // Start from the window's first element, so a window of -inf (or NaN) still has a valid
        // argmax. A NaN wins over any number and the first NaN is kept: NaN propagates, as in
        // PyTorch and numpy.max.
        int64_t best = win.h0 * g.W + win.w0;
        float best_value = x_nc[best];
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const float v = x_nc[h * g.W + w];
            if (v > best_value || (std::isnan(v) && !std::isnan(best_value))) {
              best_value = v;
              best = h * g.W + w;
            }
          }
        }
        y[nc * PQ + p * g.Q + q] = best_value;
        if (argmax) argmax[nc * PQ + p * g.Q + q] = static_cast<int32_t>(best);
      }
    }
  }
}

void max_pool2d_backward_ref(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                             float* dx) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t i = 0; i < g.N * g.C * HW; ++i) dx[i] = 0.0f;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    for (int64_t i = 0; i < PQ; ++i) dx[nc * HW + argmax[nc * PQ + i]] += dy[nc * PQ + i];
  }
}

void avg_pool2d_forward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* x,
                            float* y) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const float* x_nc = x + nc * HW;
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const Window win = window_at(g, p, q);
        float sum = 0.0f;  // padded positions add zero
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) sum += x_nc[h * g.W + w];
        }
        y[nc * PQ + p * g.Q + q] = sum / divisor(g, win, count_include_pad);
      }
    }
  }
}

void avg_pool2d_backward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                             float* dx) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t i = 0; i < g.N * g.C * HW; ++i) dx[i] = 0.0f;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    float* dx_nc = dx + nc * HW;
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const Window win = window_at(g, p, q);
        const float share = dy[nc * PQ + p * g.Q + q] / divisor(g, win, count_include_pad);
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) dx_nc[h * g.W + w] += share;
        }
      }
    }
  }
}

}  // namespace pocketcnn::kernels
