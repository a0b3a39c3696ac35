// The activation a conv fuses into its output pass (conv2d.h's Activation), lane-wise: the same
// vector functions as the elementwise ops (unary_impl.h, activation_fast_impl.h), so a fused
// conv + activation gives the floats conv2d() followed by relu() / sigmoid() / tanh() / gelu() ...
// gives under the same ISA.
#pragma once

#include <type_traits>

#include "kernels/conv/conv2d.h"
#include "kernels/pointwise/activation_fast_impl.h"
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
    case Activation::leaky_relu:
      return activation_lane<V>({ActivationOp::LeakyRelu, 0.2f}, v);
    case Activation::elu:
      return activation_lane<V>({ActivationOp::Elu, 1.0f}, v);
    case Activation::gelu:
      return activation_lane<V>({ActivationOp::Gelu}, v);
    case Activation::gelu_tanh:
      return activation_lane<V>({ActivationOp::GeluTanh}, v);
    case Activation::silu:
      return activation_lane<V>({ActivationOp::Silu}, v);
    case Activation::hard_sigmoid:
      return activation_lane<V>({ActivationOp::HardSigmoid}, v);
    case Activation::softplus:
      return activation_lane<V>({ActivationOp::Softplus}, v);
    default:
      return v;
  }
}

// f(a) with a std::integral_constant of act, one of pool_commutes (conv2d.h; others: none), so
// that activate<V>(a, v) in f's loops is the one function, not a switch per vector.
template <class F>
inline void with_pooled_activation(Activation act, const F& f) {
  using A = Activation;
  switch (act) {
    case A::relu:
      return f(std::integral_constant<A, A::relu>{});
    case A::sigmoid:
      return f(std::integral_constant<A, A::sigmoid>{});
    case A::tanh:
      return f(std::integral_constant<A, A::tanh>{});
    case A::hard_sigmoid:
      return f(std::integral_constant<A, A::hard_sigmoid>{});
    default:
      return f(std::integral_constant<A, A::none>{});
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
