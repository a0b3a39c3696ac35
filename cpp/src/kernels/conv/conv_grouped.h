// Grouped and dilated 2-D convolution (Conv2D(groups=, dilation_rate=), DepthwiseConv2D): plain
// loops, threaded over independent outputs. This is the reference implementation and, for now,
// the one the op runs (no vectorised variant yet); the Python tests check it against numpy.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// x (N, C, H, W), w (K, C / groups, R, S) -> y (N, K, P, Q); output channel k reads input channels
// of group k / (K / groups); kernel taps are dilation apart.
struct GroupedConvGeometry {
  int64_t N, C, H, W, K, R, S, P, Q;
  int64_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups;
};

void grouped_conv2d_forward(const GroupedConvGeometry& g, const float* x, const float* w,
                            const float* b, float* y);
// Gradients; dx, dw, db may each be null (not wanted).
void grouped_conv2d_backward(const GroupedConvGeometry& g, const float* x, const float* w,
                             const float* dy, float* dx, float* dw, float* db);

}  // namespace pocketcnn::kernels
