#include "kernels/pointwise/softmax.h"

#include <cmath>

#include "kernels/isa/dispatch.h"
#include "kernels/pointwise/softmax_rows.h"

namespace pocketcnn::kernels {

void softmax_forward(bool log, int64_t outer, int64_t D, int64_t inner, const float* x, float* y) {
  kernels().softmax_forward(log, outer, D, inner, x, y, get_num_threads());
}

void softmax_backward(bool log, int64_t outer, int64_t D, int64_t inner, const float* y,
                      const float* dy, float* dx) {
  kernels().softmax_backward(log, outer, D, inner, y, dy, dx, get_num_threads());
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
