// Elementwise ops as plain loops: unary functions, ops with a scalar, and binary ops with numpy
// broadcasting. Single-threaded. The ops call the scalar and binary ones directly; the unary
// loops run inside the ISA kernels (elementwise_impl.h, split over threads) for every op they do
// not vectorise, and are what the vectorised ReLU is tested against.
// Special values follow IEEE/numpy: log(0) = -inf, log(-1) = nan, 1/0 = inf; nothing traps.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/pointwise/elementwise_ops.h"

namespace pocketcnn::kernels {

// y (n) = op(x (n)).
void unary_forward_loop(UnaryOp op, int64_t n, const float* x, float* y);
// dx (n) = dy (n) * op'(x). Gets both x (n) and y = op(x) (n): relu and log use x, sigmoid, tanh
// and exp use y, neg uses neither.
void unary_backward_loop(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                         float* dx);

// y (n) = op(x (n), s).
void scalar_forward(ScalarOp op, int64_t n, const float* x, float s, float* y);
// dx (n) = dy (n) * d op(x, s) / dx at x (n). For Pow with s == 0 the derivative is 0 everywhere
// (also at x = 0, where the formula s * x^(s-1) would give nan).
void scalar_backward(ScalarOp op, int64_t n, const float* x, float s, const float* dy, float* dx);

// y (shape) = a op b, where a and b are read with the broadcast strides a_strides / b_strides
// (see broadcast.h; one per dim of `shape`, 0 along broadcast dims).
void binary_forward(BinaryOp op, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& a_strides, const float* a,
                    const std::vector<int64_t>& b_strides, const float* b, float* y);
// The gradients before they are summed back to a's and b's shapes: da_full (shape) =
// dy (shape) * d(a op b)/da and db_full (shape) = dy * d(a op b)/db at every output element.
// Either output may be null (not needed). Sum them with sum_to_shape (reduce.h).
void binary_backward(BinaryOp op, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& a_strides, const float* a,
                     const std::vector<int64_t>& b_strides, const float* b, const float* dy,
                     float* da_full, float* db_full);

// y (shape) = x read with the broadcast strides x_strides: x repeated along broadcast dims.
void broadcast_to(const std::vector<int64_t>& shape, const std::vector<int64_t>& x_strides,
                  const float* x, float* y);

}  // namespace pocketcnn::kernels
