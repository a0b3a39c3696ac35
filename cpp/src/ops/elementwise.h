// The shared body of the elementwise unary ops (relu, sigmoid, tanh in activation.cpp; exp, log,
// neg in arith.cpp): check, allocate, run the reference kernel, record the backward.
#pragma once

#include "kernels/pointwise/elementwise_loops.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::detail {

// y = op(x) elementwise; `name` (a string literal) names the op in errors and on the tape.
Tensor unary_op(const char* name, kernels::UnaryOp op, const Tensor& x);

}  // namespace pocketcnn::detail
