// Average pooling, any kernel, stride and padding: the entry points the ops call (ISA-dispatched,
// threaded; pool/pool_general_impl.h). The contracts of the plain loops avg_pool2d_forward_ref /
// avg_pool2d_backward_ref (pool/avg_pool2d_ref.h, the tests' oracle), equal to them up to float
// rounding (a window is summed rows first), and bit for bit for 2x2 / stride 2 / no padding.
#pragma once

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels {

void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const float* x, float* y);
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                         float* dx);

}  // namespace pocketcnn::kernels
