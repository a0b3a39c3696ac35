// The activation a conv fuses into its output pass (conv2d.h's Activation), lane-wise: the same
// vector functions as the elementwise ops (unary_impl.h), so a fused conv + activation gives the
// floats conv2d() followed by relu() / sigmoid() / tanh() gives under the same ISA.
#pragma once

#include "kernels/conv/conv2d.h"
#include "kernels/pointwise/vmath_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

template <class V>
inline typename V::R activate(Activation act, const typename V::R& v) {
  switch (act) {
    case Activation::relu:
      return V::max(V::zero(), v);  // NaN stays NaN, as relu()
    case Activation::sigmoid:
      return vsigmoid<V>(v);
    case Activation::tanh:
      return vtanh<V>(v);
    default:
      return v;
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
