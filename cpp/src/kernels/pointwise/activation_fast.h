// The vectorised activation kernels the ops call (ISA-dispatched, threaded above a size
// threshold; activation_fast_impl.h). Same contracts as activation_forward_ref /
// activation_backward_ref (activation_ref.h), within the error bounds stated there.
#pragma once

#include <cstdint>

#include "kernels/pointwise/activation_ops.h"

namespace pocketcnn::kernels {

void activation_forward(const ActivationParams& p, int64_t n, const float* x, float* y);
void activation_backward(const ActivationParams& p, int64_t n, const float* x, const float* dy,
                         float* dx);

}  // namespace pocketcnn::kernels
