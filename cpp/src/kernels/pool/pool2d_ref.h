// Reference kernels for 2-D max and average pooling: direct loops, single-threaded.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// Input (N, C, H, W) -> output (N, C, P, Q), P = (H + 2 pad_h - kernel_h) / stride_h + 1.
struct Pool2dGeometry {
  int64_t N, C, H, W;
  int64_t P, Q;
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
};

// y (N, C, P, Q) = max over each window of x (N, C, H, W), padding counting as -inf;
// argmax (N, C, P, Q) = the flat index h*W + w within the (n, c) plane of the chosen element
// (the first maximum in row-major window order). argmax may be null (inference).
void max_pool2d_forward_ref(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax);
// dx (N, C, H, W) = dy (N, C, P, Q) scattered to the argmax positions (summed where windows
// overlap). Overwrites dx.
void max_pool2d_backward_ref(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                             float* dx);
// y = mean over each window; the divisor is kernel_h*kernel_w when count_include_pad, else the
// number of window elements inside the input.
void avg_pool2d_forward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* x,
                            float* y);
// dx (N, C, H, W) = each dy spread evenly over its window (same divisor). Overwrites dx.
void avg_pool2d_backward_ref(const Pool2dGeometry& g, bool count_include_pad, const float* dy,
                             float* dx);

}  // namespace pocketcnn::kernels
