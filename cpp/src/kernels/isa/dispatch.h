// The runtime ISA dispatcher: one table of kernel variants per instruction set (the kernels are
// listed once, in kernel_list.h), each compiled
// from the same templated sources (gemm_impl.h, conv2d_impl.h, ...) in its own translation unit
// (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp; only the last two get ISA compiler
// flags). The entry points (gemm.h, conv2d.h, ...) look up kernels() on every call, which follows
// active_isa() (cpu.h), so set_isa_cap() takes effect immediately.
#pragma once

#include "kernels/conv/conv2d.h"
#include "kernels/gemm/gemm.h"
#include "kernels/isa/kernel_list.h"
#include "kernels/norm/batchnorm.h"
#include "kernels/optim/optim_update.h"
#include "kernels/pointwise/activation_fast.h"
#include "kernels/pointwise/elementwise.h"
#include "kernels/pool/pool2d.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

struct KernelTable {
  Isa isa;
#define POCKETCNN_KERNEL_FIELD(name, template_args, return_type, parameters) \
  return_type(*name) parameters;
  POCKETCNN_KERNEL_LIST(POCKETCNN_KERNEL_FIELD)
#undef POCKETCNN_KERNEL_FIELD
};

// The table for the active ISA.
const KernelTable& kernels();
// The table for `isa` (which must be compiled in and supported by this CPU).
const KernelTable& kernels_for(Isa isa);

const KernelTable& kernel_table_scalar();
#ifdef POCKETCNN_X86
const KernelTable& kernel_table_avx2();
const KernelTable& kernel_table_avx512();
#endif

}  // namespace pocketcnn::kernels
