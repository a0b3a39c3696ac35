// Fast elementwise kernels the ops call (ISA-dispatched, threaded above a size threshold), every
// unary op vectorised (pointwise/unary_impl.h). Same contracts as unary_forward_loop /
// unary_backward_loop (elementwise_loops.h); relu, neg and every backward bit for bit, sigmoid /
// tanh / exp / log within the error bounds stated in pointwise/vmath_impl.h.
#pragma once

#include <cstdint>

#include "kernels/pointwise/elementwise_loops.h"

namespace pocketcnn::kernels {

void unary_forward(UnaryOp op, int64_t n, const float* x, float* y);
void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float* dx);

}  // namespace pocketcnn::kernels
