// Fast softmax and log-softmax along the middle dim of (outer, D, inner), forward and backward
// (ISA-dispatched, threaded; pointwise/softmax_impl.h): the contracts of the plain loops in
// pointwise/softmax.h (the tests' oracle, float64 sums), within the errors
// tests/cpp/test_softmax_fast.cpp states (sums here are in float).
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// log = false: y = softmax(x); true: y = log_softmax(x).
void softmax_forward_fast(bool log, int64_t outer, int64_t D, int64_t inner, const float* x,
                          float* y);
// y is the forward's output: dx = y (dy - sum dy y), or for log: dx = dy - exp(y) sum dy.
void softmax_backward_fast(bool log, int64_t outer, int64_t D, int64_t inner, const float* y,
                           const float* dy, float* dx);

}  // namespace pocketcnn::kernels
