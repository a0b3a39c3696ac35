// The AVX-512 depthwise variant (compiled with -mavx512f/bw/dq/vl; run only when cpuid says so).
// GCC 12's false positive on _mm512_undefined_ps() is silenced as in kernels_avx512.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/depthwise/depthwise3x3.h"
#include "kernels/depthwise/depthwise3x3_impl.h"
#include "kernels/isa/simd_avx512.h"

namespace pocketcnn::kernels {

const DepthwiseKernels& depthwise_kernels_avx512() {
  return impl::depthwise_kernel_table<simd::Avx512Vec>();
}

}  // namespace pocketcnn::kernels
