// Pooling loops: one window per output element, clipped to the input (padding is never read), rows
// outer and the contiguous column index innermost.
#include "kernels/pool/pool2d_ref.h"

#include <algorithm>
#include <cmath>

namespace pocketcnn::kernels {

void max_pool2d_forward_ref(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const float* x_nc = x + nc * HW;
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const PoolWindow win = pool_window(g, p, q);
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

}  // namespace pocketcnn::kernels
