// The geometry of one 2-D convolution, and the one place that derives and validates it from the
// input and weight shapes, stride and padding (the op, the inference plan, the bindings and the
// tests all call make_conv2d_geometry, so they agree on every check and limit).
#pragma once

#include <cstdint>

#include "pocketcnn/tensor.h"

namespace pocketcnn::kernels {

// Output size: P = (H + pad_top + pad_bottom - R) / stride_h + 1,
// Q = (W + pad_left + pad_right - S) / stride_w + 1 (make_conv2d_geometry computes and checks
// them).
struct Conv2dGeometry {
  int64_t N, C, H, W;  // input  (N, C, H, W)
  int64_t K, R, S;     // weight (K, C, R, S)
  int64_t P, Q;        // output (N, K, P, Q)
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left;  // bottom/right padding is implied by P and Q
};

// The most zeros a convolution may add on any one side. Far more than any network pads (Keras'
// 'same' pads (kernel - 1) / 2), and small enough that every padded extent, index and output size
// stays far from overflow; the same bound for every caller.
constexpr int64_t kMaxConvPadding = 4096;

struct Conv2dStridePadding {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// x_shape (N, C, H, W), w_shape (K, C, R, S) -> the geometry, or ValueError naming what is wrong
// (prefixed by `op`): shapes not 4-D or with a zero dimension (N = 0, an empty batch, is a
// valid geometry), channel mismatch, stride < 1,
// padding outside [0, kMaxConvPadding], a kernel larger than the padded input, an output whose
// element count overflows int64.
Conv2dGeometry make_conv2d_geometry(const Shape& x_shape, const Shape& w_shape,
                                    const Conv2dStridePadding& sp, const char* op = "conv2d");

}  // namespace pocketcnn::kernels
