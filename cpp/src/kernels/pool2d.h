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

}  // namespace pocketcnn::kernels
