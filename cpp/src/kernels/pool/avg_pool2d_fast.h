// Fast average pooling, any kernel, stride and padding (ISA-dispatched, threaded;
// pool/pool_general_impl.h): the contracts of the plain loops avg_pool2d_forward /
// avg_pool2d_backward (pool/avg_pool2d.h, the tests' oracle), equal to them up to float rounding
// (a window is summed rows first), and bit for bit for 2x2 / stride 2 / no padding.
#pragma once

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels {

void avg_pool2d_forward_fast(const Pool2dGeometry& g, bool count_include_pad, const float* x,
                             float* y);
void avg_pool2d_backward_fast(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                              float* dx);

}  // namespace pocketcnn::kernels
