#include "kernels/pointwise/softmax.h"

#include <cmath>
#include <limits>

namespace pocketcnn::kernels {

namespace {
// Maximum and sum of exp(x - max) of the D strided values row[0], row[inner], ...
// Sums in double: a row of many similar values loses no precision.
void max_and_sum_exp(int64_t D, int64_t inner, const float* row, float* max_out, double* sum_out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t d = 0; d < D; ++d) m = row[d * inner] > m ? row[d * inner] : m;
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += std::exp(static_cast<double>(row[d * inner]) - m);
  *max_out = m;
  *sum_out = s;
}
}  // namespace

void softmax_forward(int64_t outer, int64_t D, int64_t inner, const float* x, float* y) {
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

void log_softmax_forward(int64_t outer, int64_t D, int64_t inner, const float* x, float* y) {
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

void softmax_backward(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
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

void log_softmax_backward(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
                          float* dx) {
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

float cross_entropy_forward(int64_t N, int64_t C, const float* logits, const int64_t* labels) {
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits + n * C;
    float m;
    double s;
    max_and_sum_exp(C, 1, row, &m, &s);
    total += (m + std::log(s)) - row[labels[n]];  // logsumexp - logit of the true class
  }
  return static_cast<float>(total / static_cast<double>(N));
}

void cross_entropy_backward(int64_t N, int64_t C, const float* logits, const int64_t* labels,
                            float g, float* dlogits) {
  const double scale = static_cast<double>(g) / static_cast<double>(N);
  for (int64_t n = 0; n < N; ++n) {
    const float* row = logits + n * C;
    float* drow = dlogits + n * C;
    float m;
    double s;
    max_and_sum_exp(C, 1, row, &m, &s);
    for (int64_t c = 0; c < C; ++c) {
      const double p = std::exp(static_cast<double>(row[c]) - m) / s;
      drow[c] = static_cast<float>(scale * (p - (c == labels[n] ? 1.0 : 0.0)));
    }
  }
}

}  // namespace pocketcnn::kernels
