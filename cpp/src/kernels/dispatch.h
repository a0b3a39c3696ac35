// The runtime ISA dispatcher: one table of kernel variants per instruction set, each compiled
// from the same templated sources (gemm_impl.h, conv2d_impl.h, ...) in its own translation unit
// (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp; only the last two get ISA compiler
// flags). The entry points (gemm.h, conv2d.h, ...) look up kernels() on every call, which follows
// active_isa() (cpu.h), so set_isa_cap() takes effect immediately.
#pragma once

#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/norm/batchnorm.h"
#include "kernels/optim_update.h"
#include "kernels/pool2d.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

struct KernelTable {
  Isa isa;
  void (*gemm_nn)(const GemmNN&, int threads);
  void (*gemm_nt)(const GemmNT&, int threads);
  void (*conv2d_forward)(const Conv2dGeometry&, const float* x, const float* w, const float* b,
                         float* y, Activation act, int threads, float* saved);
  int64_t (*conv2d_saved_floats)(const Conv2dGeometry&);
  void (*conv2d_forward_maxpool2x2)(const Conv2dGeometry&, const float* x, const float* w,
                                    const float* b, float* y, Activation act, int threads);
  void (*conv2d_backward_input)(const Conv2dGeometry&, const float* dy, const float* w, float* dx,
                                int threads);
  void (*conv2d_backward_weight)(const Conv2dGeometry&, const float* x, const float* dy, float* dw,
                                 float* db, int threads);
  void (*conv2d_backward)(const Conv2dGeometry&, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db, int threads, const float* saved);
  void (*max_pool2d_forward)(const Pool2dGeometry&, const float* x, float* y, int32_t* argmax,
                             float* winners, int threads);
  void (*max_pool2d_backward)(const Pool2dGeometry&, const float* dy, const int32_t* argmax,
                              float* dx, int threads);
  void (*max_pool2d_backward_from_winners)(const Pool2dGeometry&, const float* dy,
                                           const float* winners, float* dx, int threads);
  void (*unary_forward)(UnaryOp, int64_t n, const float* x, float* y, int threads);
  void (*unary_backward)(UnaryOp, int64_t n, const float* x, const float* y, const float* dy,
                         float* dx, int threads);
  void (*sgd_update)(int64_t n, float* p, const float* g, float* buf, const SgdStep&, int threads);
  void (*adam_update)(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep&,
                      int threads);
  double (*sum_of_squares)(int64_t n, const float* x, int threads);
  void (*scale_in_place)(int64_t n, float* x, float s, int threads);
  void (*batchnorm_stats)(const BatchNormGeometry&, const float* x, float* mean, float* var,
                          int threads);
  void (*batchnorm_apply)(const BatchNormGeometry&, const float* x, const float* scale,
                          const float* shift, float* y, int threads);
  void (*batchnorm_backward)(const BatchNormGeometry&, bool batch_stats, const float* x,
                             const float* mean, const float* invstd, const float* gamma,
                             const float* dy, float* dx, float* dgamma, float* dbeta, int threads);
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
