#include "kernels/pointwise/softmax_fast.h"

#include "kernels/isa/dispatch.h"

namespace pocketcnn::kernels {

void softmax_forward_fast(bool log, int64_t outer, int64_t D, int64_t inner, const float* x,
                          float* y) {
  kernels().softmax_forward(log, outer, D, inner, x, y, get_num_threads());
}

void softmax_backward_fast(bool log, int64_t outer, int64_t D, int64_t inner, const float* y,
                           const float* dy, float* dx) {
  kernels().softmax_backward(log, outer, D, inner, y, dy, dx, get_num_threads());
}

}  // namespace pocketcnn::kernels
