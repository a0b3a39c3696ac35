// Reference kernels for 2-D convolution (cross-correlation, like PyTorch): direct loops,
// obviously right, single-threaded. Every fast variant is tested against these.
#pragma once

#include <cstdint>

#include "kernels/conv/conv_geometry.h"

namespace pocketcnn::kernels {

// y (N, K, P, Q) = sum_{c,r,s} x (N, C, H, W)[n, c, p*sh - pt + r, q*sw - pl + s] * w (K, C, R, S)
// + b (K); taps outside the input read zero; b may be null. Overwrites y.
void conv2d_forward_ref(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                        float* y);
// dx (N, C, H, W) = the transpose of the above applied to dy (N, K, P, Q). Overwrites dx.
void conv2d_backward_input_ref(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
// dw (K, C, R, S) = sum_{n,p,q} dy[n,k,p,q] * x[n, c, p*sh - pt + r, q*sw - pl + s];
// db (K) = sum_{n,p,q} dy[n,k,p,q]. Overwrites dw and db (db may be null).
void conv2d_backward_weight_ref(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                                float* db);

}  // namespace pocketcnn::kernels
