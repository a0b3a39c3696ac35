// Fast 2-D convolution: the entry points the ops call. Each one dispatches on the active ISA
// (dispatch.cpp) to a variant compiled from conv2d_impl.h, and uses up to get_num_threads()
// threads. Same contracts as the reference kernels in conv2d_ref.h (which the tests compare
// against), plus an optional fused activation on the forward pass.
#pragma once

#include <cstdint>

#include "kernels/conv/conv_geometry.h"

namespace pocketcnn::kernels {

// Applied to the output after the bias, in the same pass (no extra sweep over memory);
// pointwise/activation_impl.h. The fused 2x2 max pool takes only none and relu. leaky_relu has
// Keras' slope 0.2 and elu alpha 1 (others run after the conv, pointwise/activation_fast.h).
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

// y = act(conv(x, w) + b); b may be null. saved (may be null): conv2d_saved_floats(g) floats
// that the forward fills for conv2d_backward of the same batch and weights (training keeps them
// instead of recomputing Winograd's transform of x); ignored when that is 0.
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* b,
                    float* y, Activation act = Activation::none, float* saved = nullptr);
// Floats conv2d_forward can save for the backward (0: its algorithm has nothing to save). Depends
// on the active ISA: save and use them under the same one.
int64_t conv2d_saved_floats(const Conv2dGeometry& g);
// y (N, K, P / 2, Q / 2) = max_pool2d(act(conv(x, w) + b), 2) for stride 1 (the inference
// fusion of conv + bias + activation + 2x2 pooling; act is none or relu). Same floats as the
// three steps one after the other.
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
