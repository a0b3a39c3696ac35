// Fast 3x3 depthwise convolution (DepthwiseConv2D, SeparableConv2D's first half, Conv2D with
// groups = C): stride 1 or 2 in each direction, padding 0..2 on each side, dilation 1, any depth
// multiplier (output channel k reads input channel k / (K / C)). Vectorised over output columns
// for every ISA (runtime dispatch as kernels/isa/dispatch.h, own tables so the general kernel
// list stays untouched); the plain loops of kernels/conv/conv_grouped.h are the reference
// they are tested against (tests/cpp/test_depthwise_fast.cpp).
#pragma once

#include "kernels/conv/conv_grouped.h"

namespace pocketcnn::kernels {

// Whether the fast kernels take this geometry (otherwise use grouped_conv2d_forward/backward).
bool depthwise3x3_applies(const GroupedConvGeometry& g);

// Contracts as grouped_conv2d_forward / grouped_conv2d_backward (b, dx, dw, db may be null).
// Each output element is computed by one thread in a fixed order: the results do not depend on
// the thread count.
void depthwise3x3_forward(const GroupedConvGeometry& g, const float* x, const float* w,
                          const float* b, float* y);
void depthwise3x3_backward(const GroupedConvGeometry& g, const float* x, const float* w,
                           const float* dy, float* dx, float* dw, float* db);

// The per-ISA variants (threads given explicitly), as the dispatcher picks them.
struct DepthwiseKernels {
  void (*forward)(const GroupedConvGeometry&, const float* x, const float* w, const float* b,
                  float* y, int threads);
  void (*backward_input)(const GroupedConvGeometry&, const float* w, const float* dy, float* dx,
                         int threads);
  void (*backward_weight)(const GroupedConvGeometry&, const float* x, const float* dy, float* dw,
                          float* db, int threads);
};
const DepthwiseKernels& depthwise_kernels_scalar();
#ifdef POCKETCNN_X86
const DepthwiseKernels& depthwise_kernels_avx2();
const DepthwiseKernels& depthwise_kernels_avx512();
#endif

}  // namespace pocketcnn::kernels
