// The parameterised / smooth activations beyond relu, sigmoid and tanh (UnaryOp): what the ops,
// the reference loops (activation_ref.h) and the ISA kernels (activation_fast_impl.h) share.
#pragma once

namespace pocketcnn::kernels {

enum class ActivationOp {
  LeakyRelu,    // x > 0 ? x : alpha x                       (alpha: the negative slope)
  Elu,          // x > 0 ? x : alpha (e^x - 1)
  Gelu,         // x Phi(x) = x (1 + erf(x / sqrt 2)) / 2   (the exact form)
  GeluTanh,     // x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
  Silu,         // x sigmoid(x) (Keras' swish)
  HardSigmoid,  // min(max(x + 3, 0), 6) / 6 (Keras 3 and PyTorch)
  Softplus,     // log(1 + e^x)
};

// An activation with its one parameter (alpha for LeakyRelu / Elu; unused by the others).
struct ActivationParams {
  ActivationOp op;
  float alpha = 0.0f;
};

}  // namespace pocketcnn::kernels
