// softmax, log_softmax and cross-entropy as plain loops (what the ops run). Softmax runs along the
// middle dim of x viewed as (outer, D, inner): softmax along dim k of a shape (d0, ..., dn) has
// outer = d0 * ... * d(k-1), D = dk, inner = d(k+1) * ... * dn. Every kernel subtracts the
// maximum before exponentiating, so huge logits (1e4) give finite results.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// x, y (outer, D, inner): y[o, :, i] = exp(x[o, :, i] - m) / sum_d exp(x[o, d, i] - m), m the max.
void softmax_forward(int64_t outer, int64_t D, int64_t inner, const float* x, float* y);
// x, y (outer, D, inner): y[o, :, i] = x[o, :, i] - m - log sum_d exp(x[o, d, i] - m).
void log_softmax_forward(int64_t outer, int64_t D, int64_t inner, const float* x, float* y);
// y = softmax(x), dy, dx (outer, D, inner): dx = y * (dy - sum_d dy * y).
void softmax_backward(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
                      float* dx);
// y = log_softmax(x), dy, dx (outer, D, inner): dx = dy - exp(y) * sum_d dy.
void log_softmax_backward(int64_t outer, int64_t D, int64_t inner, const float* y, const float* dy,
                          float* dx);

// logits (N, C), labels (N) each in [0, C), N >= 1 -> mean over n of
// -log softmax(logits[n])[labels[n]] = mean of (logsumexp(logits[n]) - logits[n, labels[n]]).
float cross_entropy_forward(int64_t N, int64_t C, const float* logits, const int64_t* labels);
// dlogits (N, C) = g / N * (softmax(logits[n]) - onehot(labels[n])), the gradient of
// g * cross_entropy_forward; recomputed from the logits so nothing else needs saving.
void cross_entropy_backward(int64_t N, int64_t C, const float* logits, const int64_t* labels,
                            float g, float* dlogits);

}  // namespace pocketcnn::kernels
