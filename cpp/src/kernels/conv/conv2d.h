// Fast 2-D convolution: the entry points the ops call. Each one dispatches on the active ISA
// (dispatch.cpp) to a variant compiled from conv2d_impl.h, and uses up to get_num_threads()
// threads. Same contracts as the reference kernels in conv2d_ref.h (which the tests compare
// against), plus an optional fused activation on the forward pass.
#pragma once

#include <cstdint>

#include "kernels/conv/conv_geometry.h"

namespace pocketcnn::kernels {

// Applied to the output after the bias, in the same pass (no extra sweep over memory);
// pointwise/activation_impl.h. The fused 2x2 max pool takes those of pool_commutes. leaky_relu
// has Keras' slope 0.2 and elu alpha 1 (others run after the conv, pointwise/activation_fast.h).
enum class Activation {
  none = 0,
  relu = 1,
  sigmoid = 2,
  tanh = 3,
  leaky_relu = 4,
  elu = 5,
  gelu = 6,
  gelu_tanh = 7,
  silu = 8,
  hard_sigmoid = 9,
  softplus = 10
};

// Whether max_pool2d(act(v)) == act(max_pool2d(v)) bit for bit, for every float input, so the
// fused conv + 2x2 max pool may pool the conv's outputs first and activate only the pooled
// quarter. That holds for an act that is, as computed (the vector code of every ISA, not only the
// maths), (1) monotone non-decreasing over the floats, so the window's largest input gives the
// largest output; (2) NaN exactly for NaN inputs, so the window's first NaN (max_pool2d's rule)
// is the same before and after; (3) never a zero of one sign from an input that is not that zero
// while the other sign occurs too (the pool's equal-value ties would then pick by position).
// none and relu trivially; tanh, sigmoid (vmath_impl.h) and hard_sigmoid: an exhaustive sweep
// over all 2^32 floats under scalar and AVX2 (issue #16) found no step down, no NaN from a
// non-NaN, and zeros only +0 except tanh(-0) = -0 (AVX-512 runs the same IEEE operations
// lane-wise; not runnable here). Not leaky_relu: 0.2 x of a negative denormal rounds to -0 while
// +0 stays +0 (a tie the pool breaks by position); elu, gelu, gelu_tanh, silu, softplus: not
// monotone (gelu, silu) or not swept. The fused kernels also pool before adding the bias: a
// constant's addition is monotone too, except that an infinite bias makes NaN from a window's
// infinity and a -0 bias keeps a -0 (InferencePlan does not fuse then).
constexpr bool pool_commutes(Activation a) {
  return a == Activation::none || a == Activation::relu || a == Activation::sigmoid ||
         a == Activation::tanh || a == Activation::hard_sigmoid;
}

// y = act(conv(x, w) + b); b may be null. saved (may be null): conv2d_saved_floats(g) floats
// that the forward fills for conv2d_backward of the same batch and weights (training keeps them
// instead of recomputing Winograd's transform of x); ignored when that is 0.
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                    float* y, Activation act = Activation::none, float* saved = nullptr);
// Floats conv2d_forward can save for the backward (0: its algorithm has nothing to save). Depends
// on the active ISA: save and use them under the same one.
int64_t conv2d_saved_floats(const Conv2dGeometry& g);
// y (N, K, P / 2, Q / 2) = max_pool2d(act(conv(x, w) + b), 2) for stride 1 (the inference
// fusion of conv + bias + activation + 2x2 pooling; pool_commutes(act): pooled first, then
// activated). Same floats as the three steps one after the other.
void conv2d_forward_maxpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act);
// y (N, K, P / 2, Q / 2) = avg_pool2d(act(conv(x, w) + b), 2) (2x2 windows, stride 2, no
// padding; any conv stride; any act): the inference fusion of conv + bias + activation + 2x2
// average pooling (LeNet's). Same floats as the steps one after the other.
void conv2d_forward_avgpool2x2(const Conv2dGeometry& g, const float* x, const float* w,
                               const float* b, float* y, Activation act);
// dx = the transpose of the convolution applied to dy. Overwrites dx.
void conv2d_backward_input(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
// dw, db (db may be null). Overwrites both.
void conv2d_backward_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                            float* db);
// The two above in one call (dx or dw null: not wanted; db may be null): where both gradients
// are wanted, work they share is done once (Winograd's transform of dy).
// saved (may be null): what conv2d_forward saved for this batch and these weights; x is then not
// read.
void conv2d_backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, const float* saved = nullptr);

}  // namespace pocketcnn::kernels
