// The plain reference kernels of the activations in activation_ops.h: the oracle the vectorised
// kernels (activation_fast.h) are tested against. Each element is computed in double from the
// C library's exp / expm1 / log1p / erfc / tanh and rounded once to float, so the reference is
// correctly rounded up to the C library's (sub-ulp) double error.
// Special values: NaN propagates (forward and backward); the limits at +-inf are taken
// (gelu(-inf) = silu(-inf) = -0, where x * 0 would give NaN).
#pragma once

#include <cstdint>

#include "kernels/pointwise/activation_ops.h"

namespace pocketcnn::kernels {

// y (n) = op(x (n)).
void activation_forward_ref(const ActivationParams& p, int64_t n, const float* x, float* y);
// dx (n) = dy (n) * op'(x (n)). The derivatives at the kinks follow PyTorch: leaky_relu and elu
// take the negative side's slope at 0; hard_sigmoid's is 0 at -3 and 3.
void activation_backward_ref(const ActivationParams& p, int64_t n, const float* x, const float* dy,
                             float* dx);

}  // namespace pocketcnn::kernels
