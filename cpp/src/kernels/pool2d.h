// Fast pooling: the entry points the ops call (ISA-dispatched, threaded). Same contracts as
// pool2d_ref.h, which the tests compare against. The common 2x2 / stride 2 / no-padding max pool
// (every pooling layer of the lecture net, and the benchmark target) has a vectorised path; other
// geometries use the reference loops, split over threads.
#pragma once

#include <cstdint>

#include "kernels/pool2d_ref.h"

namespace pocketcnn::kernels {

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                         float* dx);

// For 2x2 / stride 2 / no padding the forward needs no argmax: the backward finds each window's
// winner again from x and y (the first element equal to y, or the first NaN), which is exactly
// the reference's argmax. Saves the argmax's memory and its writes.
bool max_pool2d_backward_needs_no_argmax(const Pool2dGeometry& g);
// dx from x, y = max_pool2d(x), dy; only where max_pool2d_backward_needs_no_argmax(g).
void max_pool2d_backward_from_output(const Pool2dGeometry& g, const float* x, const float* y,
                                     const float* dy, float* dx);

}  // namespace pocketcnn::kernels
