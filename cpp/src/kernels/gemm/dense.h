// Fast dense-layer kernels on the GEMM microkernels (gemm.h; ISA-dispatched, threaded). Same
// contracts as dense_ref.h, which the tests compare against.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// y (N, out) = x (N, in) @ w (out, in)^T + b (out); b may be null.
void linear_forward(int64_t N, int64_t in, int64_t out, const float* x, const float* w,
                    const float* b, float* y);
// dx (N, in) = dy (N, out) @ w (out, in).
void linear_backward_input(int64_t N, int64_t in, int64_t out, const float* dy, const float* w,
                           float* dx);
// dw (out, in) = dy^T @ x; db (out) = sum_n dy (db may be null).
void linear_backward_weight(int64_t N, int64_t in, int64_t out, const float* x, const float* dy,
                            float* dw, float* db);

}  // namespace pocketcnn::kernels
