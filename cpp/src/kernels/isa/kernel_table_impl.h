// Builds the KernelTable of one ISA from the templated kernels. Included once by each
// kernels_<isa>.cpp after it defines the vector type V and block configuration Cfg.
#pragma once

#include "kernels/conv/conv2d_impl.h"
#include "kernels/gemm/gemm_impl.h"
#include "kernels/isa/dispatch.h"
#include "kernels/isa/kernel_list.h"
#include "kernels/norm/batchnorm_impl.h"
#include "kernels/optim/optim_update_impl.h"
#include "kernels/pointwise/activation_fast_impl.h"
#include "kernels/pointwise/elementwise_impl.h"
#include "kernels/pointwise/softmax_impl.h"
#include "kernels/pool/pool2d_impl.h"
#include "kernels/pool/pool_general_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy of every helper, so the linker
// can never pick an AVX-512-compiled copy for the scalar code path (an ODR trap of per-file flags).
namespace {

template <class V, class Cfg>
KernelTable make_kernel_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
#define POCKETCNN_KERNEL_ASSIGN(name, template_args, return_type, parameters) \
  t.name = &name<POCKETCNN_UNPARENTHESIZE template_args>;
  POCKETCNN_KERNEL_LIST(POCKETCNN_KERNEL_ASSIGN)
#undef POCKETCNN_KERNEL_ASSIGN
  return t;
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
