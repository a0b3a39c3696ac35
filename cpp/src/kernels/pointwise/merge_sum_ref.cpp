#include "kernels/pointwise/merge_sum.h"

namespace pocketcnn::kernels {

void merge_sum_ref(int64_t n_inputs, const float* const* xs, int64_t n, bool relu, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    float v = xs[0][i];
    for (int64_t k = 1; k < n_inputs; ++k) v = v + xs[k][i];
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

}  // namespace pocketcnn::kernels
