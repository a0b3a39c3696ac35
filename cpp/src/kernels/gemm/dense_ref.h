// Reference kernels for the dense (fully connected) layer: plain loops, obviously right. Fast
// variants are tested against these.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// y (N, out) = x (N, in) @ w (out, in)^T + b (out); b may be null.
void linear_forward_ref(int64_t N, int64_t in, int64_t out, const float* x, const float* w,
                        const float* b, float* y);
// dx (N, in) = dy (N, out) @ w (out, in). Overwrites dx.
void linear_backward_input_ref(int64_t N, int64_t in, int64_t out, const float* dy, const float* w,
                               float* dx);
// dw (out, in) = dy (N, out)^T @ x (N, in); db (out) = sum_n dy. Overwrite dw and db (db may be
// null).
void linear_backward_weight_ref(int64_t N, int64_t in, int64_t out, const float* x, const float* dy,
                                float* dw, float* db);

}  // namespace pocketcnn::kernels
