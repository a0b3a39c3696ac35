// The activations after relu / sigmoid / tanh (cpp/src/ops/activation_extra.cpp), each with its
// backward on the tape: Keras 3 / PyTorch definitions (NaN propagates; the limits at +-inf).
#pragma once

#include "pocketcnn/tensor.h"

namespace pocketcnn {

// x > 0 ? x : negative_slope * x (negative_slope finite; no default: Keras' activation uses 0.2,
// its LeakyReLU layer 0.3, PyTorch 0.01). Gradient negative_slope at 0, as PyTorch.
Tensor leaky_relu(const Tensor& x, float negative_slope);
// x > 0 ? x : alpha (e^x - 1) (alpha finite).
Tensor elu(const Tensor& x, float alpha = 1.0f);
// x Phi(x) (the exact, erf form), or with `approximate` the tanh form
// x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 (PyTorch's approximate='tanh').
Tensor gelu(const Tensor& x, bool approximate = false);
// x sigmoid(x), Keras' swish.
Tensor silu(const Tensor& x);
// relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6 (Keras 3 and PyTorch; not Keras 2's 0.2 x + 0.5).
Tensor hard_sigmoid(const Tensor& x);
// log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|).
Tensor softplus(const Tensor& x);

}  // namespace pocketcnn
