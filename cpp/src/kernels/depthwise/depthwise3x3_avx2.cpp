// The AVX2 + FMA depthwise variant (compiled with -mavx2 -mfma; run only when cpuid says so).
#include "kernels/depthwise/depthwise3x3.h"
#include "kernels/depthwise/depthwise3x3_impl.h"
#include "kernels/isa/simd_avx2.h"

namespace pocketcnn::kernels {

const DepthwiseKernels& depthwise_kernels_avx2() {
  return impl::depthwise_kernel_table<simd::Avx2Vec>();
}

}  // namespace pocketcnn::kernels
