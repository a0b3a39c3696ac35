#include "kernels/pointwise/loss.h"

namespace pocketcnn::kernels {

float mse_forward(int64_t n, const float* pred, const float* target) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(pred[i]) - target[i];
    total += d * d;
  }
  return static_cast<float>(total / static_cast<double>(n));
}

void mse_backward(int64_t n, const float* pred, const float* target, float g, float* dpred,
                  float* dtarget) {
  const double scale = 2.0 * static_cast<double>(g) / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const float d = static_cast<float>(scale * (static_cast<double>(pred[i]) - target[i]));
    if (dpred) dpred[i] = d;
    if (dtarget) dtarget[i] = -d;
  }
}

}  // namespace pocketcnn::kernels
