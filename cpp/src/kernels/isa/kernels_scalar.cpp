// The portable variants: every kernel over GenericVec<8> (plain loops; no processor flags, builds
// on any CPU). Also the fallback when POCKETCNN_ISA=scalar.
#include "kernels/isa/block_configs.h"
#include "kernels/isa/kernel_table_impl.h"
#include "kernels/isa/simd_generic.h"

namespace pocketcnn::kernels {

const KernelTable& kernel_table_scalar() {
  static const KernelTable t = impl::make_kernel_table<simd::GenericVec<8>, ScalarCfg>(Isa::scalar);
  return t;
}

}  // namespace pocketcnn::kernels
