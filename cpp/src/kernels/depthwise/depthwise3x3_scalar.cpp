// The portable depthwise variant (GenericVec<8>: plain loops the compiler auto-vectorises).
#include "kernels/depthwise/depthwise3x3.h"
#include "kernels/depthwise/depthwise3x3_impl.h"
#include "kernels/isa/simd_generic.h"

namespace pocketcnn::kernels {

const DepthwiseKernels& depthwise_kernels_scalar() {
  return impl::depthwise_kernel_table<simd::GenericVec<8>>();
}

}  // namespace pocketcnn::kernels
