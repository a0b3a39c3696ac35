// Average pooling as plain loops over each window clipped to the input (the padding is never
// read), single-threaded: the oracle the tests check pool/avg_pool2d.h against (and themselves
// checked against hand-computed windows and finite differences). The fast kernels fall back to
// them only for planes too large for their index arithmetic (pool_general_ok).
#pragma once

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels {

// y = mean over each window; the divisor is kernel_h*kernel_w when count_include_pad, else the
// number of window elements inside the input.
void avg_pool2d_forward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* x,
                            float* y);
// dx (N, C, H, W) = each dy spread evenly over its window (same divisor). Overwrites dx.
void avg_pool2d_backward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                             float* dx);

}  // namespace pocketcnn::kernels
