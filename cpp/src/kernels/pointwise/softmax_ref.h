// softmax and log_softmax as plain loops, sums in float64: the oracle the tests check the
// vectorised kernels (softmax.h) against. Softmax runs along the middle dim of x viewed as
// (outer, D, inner): softmax along dim k of a shape (d0, ..., dn) has outer = d0 * ... * d(k-1),
// D = dk, inner = d(k+1) * ... * dn. Every kernel subtracts the maximum before exponentiating,
// so huge logits (1e4) give finite results.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// x, y (outer, D, inner): y[o, :, i] = exp(x[o, :, i] - m) / sum_d exp(x[o, d, i] - m), m the max.
void softmax_forward_ref(int64_t outer, int64_t D, int64_t inner, const float* x, float* y);
// x, y (outer, D, inner): y[o, :, i] = x[o, :, i] - m - log sum_d exp(x[o, d, i] - m).
void log_softmax_forward_ref(int64_t outer, int64_t D, int64_t inner, const float* x, float* y);
// y = softmax(x), dy, dx (outer, D, inner): dx = y * (dy - sum_d dy * y).
void softmax_backward_ref(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
                          float* dx);
// y = log_softmax(x), dy, dx (outer, D, inner): dx = dy - exp(y) * sum_d dy.
void log_softmax_backward_ref(int64_t outer, int64_t D, int64_t inner, const float* y,
                              const float* dy, float* dx);

}  // namespace pocketcnn::kernels
