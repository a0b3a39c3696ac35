#include "kernels/conv/conv_grouped.h"

#include <algorithm>

#include "kernels/runtime/parallel.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

namespace {

struct Index {
  const GroupedConvGeometry& g;
  int64_t x(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return ((n * g.C + c) * g.H + h) * g.W + w;
  }
  int64_t w(int64_t k, int64_t c, int64_t r, int64_t s) const {
    return ((k * (g.C / g.groups) + c) * g.R + r) * g.S + s;
  }
  int64_t y(int64_t n, int64_t k, int64_t p, int64_t q) const {
    return ((n * g.K + k) * g.P + p) * g.Q + q;
  }
};

// Calls f(c_in, c, r, s, ih, iw) for the kernel taps of output (k, p, q) that land in the input.
template <class F>
inline void for_taps(const GroupedConvGeometry& g, int64_t k, int64_t p, int64_t q, F&& f) {
  const int64_t cg = g.C / g.groups, first = (k / (g.K / g.groups)) * cg;
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ih = p * g.stride_h - g.pad_top + r * g.dilation_h;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t iw = q * g.stride_w - g.pad_left + s * g.dilation_w;
        if (iw >= 0 && iw < g.W) f(first + c, c, r, s, ih, iw);
      }
    }
  }
}

double flops(const GroupedConvGeometry& g) {
  return 2.0 * g.N * g.K * g.P * g.Q * (g.C / g.groups) * g.R * g.S;
}

}  // namespace

void grouped_conv2d_forward(const GroupedConvGeometry& g, const float* x, const float* w,
                            const float* b, float* y) {
  const Index at{g};
  const int nt = threads_for(g.N * g.K, flops(g), get_num_threads());
  parallel_for(g.N * g.K, nt, [&](int64_t a, int64_t e) {
    for (int64_t nk = a; nk < e; ++nk) {
      const int64_t n = nk / g.K, k = nk % g.K;
      for (int64_t p = 0; p < g.P; ++p) {
        for (int64_t q = 0; q < g.Q; ++q) {
          float sum = b ? b[k] : 0.0f;
          for_taps(g, k, p, q,
                   [&](int64_t ci, int64_t c, int64_t r, int64_t s, int64_t ih, int64_t iw) {
                     sum += x[at.x(n, ci, ih, iw)] * w[at.w(k, c, r, s)];
                   });
          y[at.y(n, k, p, q)] = sum;
        }
      }
    }
  });
}

void grouped_conv2d_backward(const GroupedConvGeometry& g, const float* x, const float* w,
                             const float* dy, float* dx, float* dw, float* db) {
  const Index at{g};
  if (dx) {  // per sample: no two threads write the same dx element
    const int nt = threads_for(g.N, flops(g), get_num_threads());
    parallel_for(g.N, nt, [&](int64_t a, int64_t e) {
      std::fill(dx + a * g.C * g.H * g.W, dx + e * g.C * g.H * g.W, 0.0f);
      for (int64_t n = a; n < e; ++n)
        for (int64_t k = 0; k < g.K; ++k)
          for (int64_t p = 0; p < g.P; ++p)
            for (int64_t q = 0; q < g.Q; ++q) {
              const float d = dy[at.y(n, k, p, q)];
              for_taps(g, k, p, q,
                       [&](int64_t ci, int64_t c, int64_t r, int64_t s, int64_t ih, int64_t iw) {
                         dx[at.x(n, ci, ih, iw)] += d * w[at.w(k, c, r, s)];
                       });
            }
    });
  }
  if (dw || db) {  // per output channel: its weights and bias
    const int64_t per_k = (g.C / g.groups) * g.R * g.S;
    const int nt = threads_for(g.K, flops(g), get_num_threads());
    parallel_for(g.K, nt, [&](int64_t a, int64_t e) {
      for (int64_t k = a; k < e; ++k) {
        if (dw) std::fill(dw + k * per_k, dw + (k + 1) * per_k, 0.0f);
        double bias = 0.0;
        for (int64_t n = 0; n < g.N; ++n)
          for (int64_t p = 0; p < g.P; ++p)
            for (int64_t q = 0; q < g.Q; ++q) {
              const float d = dy[at.y(n, k, p, q)];
              bias += d;
              if (!dw) continue;
              for_taps(g, k, p, q,
                       [&](int64_t ci, int64_t c, int64_t r, int64_t s, int64_t ih, int64_t iw) {
                         dw[at.w(k, c, r, s)] += d * x[at.x(n, ci, ih, iw)];
                       });
            }
        if (db) db[k] = static_cast<float>(bias);
      }
    });
  }
}

}  // namespace pocketcnn::kernels
