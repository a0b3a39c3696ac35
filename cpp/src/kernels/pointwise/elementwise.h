// Fast elementwise kernels the ops call (ISA-dispatched, threaded above a size threshold): ReLU
// and its gradient vectorised; the other unary ops run the plain loops (elementwise_loops.h),
// split over threads. Same contracts as unary_forward_loop / unary_backward_loop.
#pragma once

#include <cstdint>

#include "kernels/pointwise/elementwise_loops.h"

namespace pocketcnn::kernels {

void unary_forward(UnaryOp op, int64_t n, const float* x, float* y);
void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float* dx);

}  // namespace pocketcnn::kernels
