// The activation of a conv's output pass, with ReLU, none, tanh and sigmoid inline. activate<V>
// (activation_impl.h) holds every activation's vector code, and GCC keeps it out of line in
// the conv epilogues (46 calls in the AVX2 kernels: copy_rows_bias_act, the 2x7 direct tiles,
// correlate_image), so each output vector paid a call, a switch and its argument through
// memory; relu was 20% of the instructions of allconv's 3->32 stride-2 layer (callgrind).
// The same floats as activate<V> for every activation.
#pragma once

#include "kernels/conv/conv2d.h"
#include "kernels/pointwise/activation_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

template <class V>
inline typename V::R conv_act(Activation act, typename V::R v) {
  if (act == Activation::relu) return V::max(V::zero(), v);  // as activate<V>: NaN stays NaN
  if (act == Activation::none) return v;
  // tanh and sigmoid inline too (LeNet-5, the tanh / sigmoid suite nets): the call cost about
  // as much as the math itself once that was ~13 cycles per vector.
  if (act == Activation::tanh) return vtanh<V>(v);
  if (act == Activation::sigmoid) return vsigmoid<V>(v);
  return activate<V>(act, v);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
