#include "kernels/pointwise/softmax_ref.h"

#include <cmath>

#include "kernels/pointwise/softmax_rows.h"

namespace pocketcnn::kernels {

void softmax_forward_ref(int64_t outer, int64_t D, int64_t inner, const float* x, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* xr = x + o * D * inner + i;
      float* yr = y + o * D * inner + i;
      float m;
      double s;
      max_and_sum_exp(D, inner, xr, &m, &s);
      for (int64_t d = 0; d < D; ++d) {
        yr[d * inner] = static_cast<float>(std::exp(static_cast<double>(xr[d * inner]) - m) / s);
      }
    }
  }
}

void log_softmax_forward_ref(int64_t outer, int64_t D, int64_t inner, const float* x, float* y) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* xr = x + o * D * inner + i;
      float* yr = y + o * D * inner + i;
      float m;
      double s;
      max_and_sum_exp(D, inner, xr, &m, &s);
      const double log_s = std::log(s);
      for (int64_t d = 0; d < D; ++d) {
        yr[d * inner] = static_cast<float>(static_cast<double>(xr[d * inner]) - m - log_s);
      }
    }
  }
}

void softmax_backward_ref(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
                          float* dx) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * D * inner + i;
      double dot = 0.0;  // sum_d dy * y
      for (int64_t d = 0; d < D; ++d) {
        dot += static_cast<double>(dy[base + d * inner]) * y[base + d * inner];
      }
      for (int64_t d = 0; d < D; ++d) {
        const int64_t k = base + d * inner;
        dx[k] = static_cast<float>(y[k] * (dy[k] - dot));
      }
    }
  }
}

void log_softmax_backward_ref(int64_t outer, int64_t D, int64_t inner, const float* y,
                              const float* dy, float* dx) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * D * inner + i;
      double total = 0.0;  // sum_d dy
      for (int64_t d = 0; d < D; ++d) total += dy[base + d * inner];
      for (int64_t d = 0; d < D; ++d) {
        const int64_t k = base + d * inner;
        dx[k] = static_cast<float>(dy[k] - std::exp(static_cast<double>(y[k])) * total);
      }
    }
  }
}

}  // namespace pocketcnn::kernels
