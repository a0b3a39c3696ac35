// Reference kernels for 2-D max pooling: direct loops, single-threaded (the tests' oracle;
// the ISA kernels also run them for windows other than 2x2 / stride 2).
#pragma once

#include <cstdint>

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels {

// y (N, C, P, Q) = max over each window of x (N, C, H, W), padding counting as -inf;
// argmax (N, C, P, Q) = the flat index h*W + w within the (n, c) plane of the chosen element
// (the first maximum in row-major window order). argmax may be null (inference).
void max_pool2d_forward_ref(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax);
// dx (N, C, H, W) = dy (N, C, P, Q) scattered to the argmax positions (summed where windows
// overlap). Overwrites dx.
void max_pool2d_backward_ref(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                             float* dx);
}  // namespace pocketcnn::kernels
