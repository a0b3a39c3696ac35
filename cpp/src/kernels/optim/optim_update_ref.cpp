// Reference optimiser loops: one plain pass per update, in PyTorch's order of operations.
#include <cmath>

#include "kernels/optim/optim_update.h"

namespace pocketcnn::kernels {

void sgd_update_ref(int64_t n, float* p, const float* g, float* buf, const SgdStep& s) {
  const float keep = 1.0f - s.dampening;
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (s.weight_decay != 0.0f) d += s.weight_decay * p[i];
    if (buf) {
      buf[i] = s.first_step ? d : s.momentum * buf[i] + keep * d;
      d = s.nesterov ? d + s.momentum * buf[i] : buf[i];
    }
    p[i] -= s.lr * d;
  }
}

void adam_update_ref(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep& s) {
  for (int64_t i = 0; i < n; ++i) {
    float d = g[i];
    if (s.weight_decay != 0.0f) {
      if (s.decoupled) {
        p[i] *= s.decay;
      } else {
        d += s.weight_decay * p[i];
      }
    }
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * d;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * d * d;
    const float denom = std::sqrt(v[i]) / s.bias_correction2_sqrt + s.eps;
    p[i] -= s.step_size * (m[i] / denom);
  }
}

double sum_of_squares_ref(int64_t n, const float* x) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  return total;
}

void scale_in_place_ref(int64_t n, float* x, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace pocketcnn::kernels
