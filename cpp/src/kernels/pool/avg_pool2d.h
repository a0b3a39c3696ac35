// Fast average pooling, any kernel, stride and padding (ISA-dispatched, threaded): the same
// contracts as avg_pool2d_forward_ref / avg_pool2d_backward_ref (pool2d_ref.h), equal to them up
// to float rounding (the window is summed rows first; pool/pool_general_impl.h).
#pragma once

#include "kernels/pool2d_ref.h"

namespace pocketcnn::kernels {

void avg_pool2d_forward(const Pool2dGeometry& g, bool count_include_pad, const float* x, float* y);
void avg_pool2d_backward(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                         float* dx);

}  // namespace pocketcnn::kernels
