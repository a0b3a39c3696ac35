// Picks the depthwise kernels of the active ISA (cpu.h's active_isa follows POCKETCNN_ISA and
// set_isa_cap) and checks the geometry the fast path promises to handle.
#include "kernels/depthwise/depthwise3x3.h"

#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"

namespace pocketcnn::kernels {

namespace {

const DepthwiseKernels& active_kernels() {
  switch (active_isa()) {
#ifdef POCKETCNN_X86
    case Isa::avx512:
      return depthwise_kernels_avx512();
    case Isa::avx2:
      return depthwise_kernels_avx2();
#endif
    default:
      return depthwise_kernels_scalar();
  }
}

bool small_pad(int64_t p) {
  return p >= 0 && p <= 2;
}

}  // namespace

bool depthwise3x3_applies(const GroupedConvGeometry& g) {
  // The kernels copy each input plane into a zero-padded buffer of the rows and columns the
  // outputs read, (P - 1) * stride + 3 of each: that reaches at most 2 past the input's end here.
  const bool rows_fit = g.P >= 1 && (g.P - 1) * g.stride_h + 3 <= g.H + g.pad_top + 2;
  const bool cols_fit = g.Q >= 1 && (g.Q - 1) * g.stride_w + 3 <= g.W + g.pad_left + 2;
  return g.groups == g.C && g.K % g.C == 0 && g.R == 3 && g.S == 3 && g.dilation_h == 1 &&
         g.dilation_w == 1 && (g.stride_h == 1 || g.stride_h == 2) &&
         (g.stride_w == 1 || g.stride_w == 2) && small_pad(g.pad_top) && small_pad(g.pad_left) &&
         rows_fit && cols_fit;
}

void depthwise3x3_forward(const GroupedConvGeometry& g, const float* x, const float* w,
                          const float* b, float* y) {
  PCNN_CHECK(depthwise3x3_applies(g), "depthwise3x3_forward: geometry not supported");
  active_kernels().forward(g, x, w, b, y, get_num_threads());
}

void depthwise3x3_backward(const GroupedConvGeometry& g, const float* x, const float* w,
                           const float* dy, float* dx, float* dw, float* db) {
  PCNN_CHECK(depthwise3x3_applies(g), "depthwise3x3_backward: geometry not supported");
  const DepthwiseKernels& k = active_kernels();
  if (dx) k.backward_input(g, w, dy, dx, get_num_threads());
  if (dw || db) k.backward_weight(g, x, dy, dw, db, get_num_threads());
}

}  // namespace pocketcnn::kernels
