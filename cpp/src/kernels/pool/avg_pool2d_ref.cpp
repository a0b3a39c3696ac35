#include "kernels/pool/avg_pool2d_ref.h"

namespace pocketcnn::kernels {

namespace {

float divisor(const Pool2dGeometry& g, const PoolWindow& win, bool count_include_pad) {
  // In double: kernel_h * kernel_w overflows int64 for windows of 2^32 x 2^32 (which the padding
  // rules allow on a 1x1 input), and a wrapped divisor of 0 made the mean inf.
  return count_include_pad
             ? static_cast<float>(static_cast<double>(g.kernel_h) * static_cast<double>(g.kernel_w))
             : static_cast<float>((win.h1 - win.h0) * (win.w1 - win.w0));
}

}  // namespace

void avg_pool2d_forward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* x,
                            float* y) {
  const int64_t HW = g.H * g.W, PQ = g.P * g.Q;
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    const float* x_nc = x + nc * HW;
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const PoolWindow win = pool_window(g, p, q);
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
        const PoolWindow win = pool_window(g, p, q);
        const float share = dy[nc * PQ + p * g.Q + q] / divisor(g, win, count_include_pad);
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) dx_nc[h * g.W + w] += share;
        }
      }
    }
  }
}

}  // namespace pocketcnn::kernels
