// Softmax, log-softmax and cross-entropy: the entry points the ops call. Softmax runs along the
// middle dim of x viewed as (outer, D, inner) (softmax along dim k of a shape (d0, ..., dn) has
// outer = d0 * ... * d(k-1), D = dk, inner = d(k+1) * ... * dn), ISA-dispatched and threaded
// (pointwise/softmax_impl.h): the contracts of the plain loops in softmax_ref.h (the tests'
// oracle, float64 sums), within the errors tests/cpp/test_softmax_fast.cpp states (sums here are
// in float). Cross-entropy is plain loops (float64 sums), fused with its softmax. Every kernel
// subtracts the maximum before exponentiating, so huge logits (1e4) give finite results.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// log = false: y = softmax(x); true: y = log_softmax(x).
void softmax_forward(bool log, int64_t outer, int64_t D, int64_t inner, const float* x, float* y);
// y is the forward's output: dx = y (dy - sum dy y), or for log: dx = dy - exp(y) sum dy.
void softmax_backward(bool log, int64_t outer, int64_t D, int64_t inner, const float* y,
                      const float* dy, float* dx);

// logits (N, C), labels (N) each in [0, C), N >= 1 -> mean over n of
// -log softmax(logits[n])[labels[n]] = mean of (logsumexp(logits[n]) - logits[n, labels[n]]).
float cross_entropy_forward(int64_t N, int64_t C, const float* logits, const int64_t* labels);
// dlogits (N, C) = g / N * (softmax(logits[n]) - onehot(labels[n])), the gradient of
// g * cross_entropy_forward; recomputed from the logits so nothing else needs saving.
void cross_entropy_backward(int64_t N, int64_t C, const float* logits, const int64_t* labels,
                            float g, float* dlogits);

}  // namespace pocketcnn::kernels
