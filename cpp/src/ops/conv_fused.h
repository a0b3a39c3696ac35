// conv2d with an activation fused into its output pass, for the inference plan (no tape: the
// caller runs under no_grad). The same checks and errors as conv2d, and the same floats as
// conv2d() followed by relu() / sigmoid() / tanh() under the same ISA.
#pragma once

#include "kernels/conv/conv2d.h"
#include "pocketcnn/ops.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::detail {

Tensor conv2d_activated(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt,
                        kernels::Activation act);

}  // namespace pocketcnn::detail
