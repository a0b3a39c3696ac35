// Sums as plain loops (what the ops run): summing an array down to a smaller (broadcast-compatible)
// shape. That one kernel serves sum/mean over any dims (with keepdim: those dims become 1) and the
// gradients of broadcasting ops (summed back to each input's shape).
#pragma once

#include <cstdint>
#include <vector>

namespace pocketcnn::kernels {

// y (y_shape) = x (x_shape) summed over every dim where y_shape is 1 (or missing: y_shape is
// right-aligned with x_shape, like numpy broadcasting) and x_shape is not. Each dim of y_shape
// must be 1 or equal to x_shape's, and y_shape.size() <= x_shape.size(). A 0-d y_shape sums
// everything. Accumulates in double, so the result does not depend on summation order beyond
// float rounding of the final value. Overwrites y (0 where nothing is summed in, e.g. x empty).
void sum_to_shape(const std::vector<int64_t>& x_shape, const float* x,
                  const std::vector<int64_t>& y_shape, float* y);

// The backward of sum_to_shape (scale 1) or of a mean (scale 1 / count): dx (x_shape) = dy
// (y_shape, as above) broadcast back to x_shape, times scale. Bit for bit broadcast_to followed
// by a multiplication by scale (which scale 1 skips), whatever the thread count.
void sum_to_shape_backward(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& y_shape,
                           const float* dy, float scale, float* dx);

}  // namespace pocketcnn::kernels
