// The AVX2+FMA variants (compiled with -mavx2 -mfma; run only when cpuid says so).
#include "kernels/isa/block_configs.h"
#include "kernels/isa/kernel_table_impl.h"
#include "kernels/isa/simd_avx2.h"

namespace pocketcnn::kernels {

const KernelTable& kernel_table_avx2() {
  static const KernelTable t = impl::make_kernel_table<simd::Avx2Vec, Avx2Cfg>(Isa::avx2);
  return t;
}

}  // namespace pocketcnn::kernels
