// Builds the KernelTable of one ISA from the templated kernels. Included once by each
// kernels_<isa>.cpp after it defines the vector type V and block configuration Cfg.
#pragma once

#include "kernels/conv2d_impl.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise_impl.h"
#include "kernels/gemm_impl.h"
#include "kernels/norm/batchnorm_impl.h"
#include "kernels/optim_update_impl.h"
#include "kernels/pool2d_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy of every helper, so the linker
// can never pick an AVX-512-compiled copy for the scalar code path (an ODR trap of per-file flags).
namespace {

template <class V, class Cfg>
KernelTable make_kernel_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  t.gemm_nn = &gemm_nn<V, Cfg>;
  t.gemm_nt = &gemm_nt<V, Cfg>;
  t.conv2d_forward = &conv2d_forward<V, Cfg>;
  t.conv2d_saved_floats = &conv2d_saved_floats<V, Cfg>;
  t.conv2d_forward_maxpool2x2 = &conv2d_forward_maxpool2x2<V, Cfg>;
  t.conv2d_backward_input = &conv2d_backward_input<V, Cfg>;
  t.conv2d_backward_weight = &conv2d_backward_weight<V, Cfg>;
  t.conv2d_backward = &conv2d_backward<V, Cfg>;
  t.max_pool2d_forward = &max_pool2d_forward<V>;
  t.max_pool2d_backward = &max_pool2d_backward<V>;
  t.max_pool2d_backward_from_winners = &max_pool2d_backward_from_winners<V>;
  t.unary_forward = &unary_forward<V>;
  t.unary_backward = &unary_backward<V>;
  t.sgd_update = &sgd_update<V>;
  t.adam_update = &adam_update<V>;
  t.sum_of_squares = &sum_of_squares<V>;
  t.scale_in_place = &scale_in_place<V>;
  t.batchnorm_stats = &batchnorm_stats<V>;
  t.batchnorm_apply = &batchnorm_apply<V>;
  t.batchnorm_backward = &batchnorm_backward<V>;
  return t;
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
