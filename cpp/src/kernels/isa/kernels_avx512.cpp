// The AVX-512 variants (compiled with -mavx512f/bw/dq/vl; run only when cpuid says so).
// GCC 12 flags its own _mm512_undefined_ps() inside avx512fintrin.h as uninitialised once the
// intrinsics are inlined into our kernels (a known false positive); silence it for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/isa/block_configs.h"
#include "kernels/isa/kernel_table_impl.h"
#include "kernels/isa/simd_avx512.h"

namespace pocketcnn::kernels {

const KernelTable& kernel_table_avx512() {
  static const KernelTable t = impl::make_kernel_table<simd::Avx512Vec, Avx512Cfg>(Isa::avx512);
  return t;
}

}  // namespace pocketcnn::kernels
