#include "kernels/pointwise/activation_fast.h"

#include "kernels/isa/dispatch.h"

namespace pocketcnn::kernels {

void activation_forward(const ActivationParams& p, int64_t n, const float* x, float* y) {
  kernels().activation_forward(p, n, x, y, get_num_threads());
}

void activation_backward(const ActivationParams& p, int64_t n, const float* x, const float* dy,
                         float* dx) {
  kernels().activation_backward(p, n, x, dy, dx, get_num_threads());
}

}  // namespace pocketcnn::kernels
