// leaky_relu, elu, gelu, silu, hard_sigmoid, softplus: the vectorised kernels
// (kernels/pointwise/activation_fast.h) forward and backward. The tape keeps x, which every
// derivative reads.
#include <cmath>

#include "kernels/pointwise/activation_fast.h"
#include "pocketcnn/activations.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"

namespace pocketcnn {

using kernels::ActivationOp;
using kernels::ActivationParams;

namespace {

Tensor activation_op(const char* name, const ActivationParams& p, const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), name, ": input is None");
  Tensor y = Tensor::empty(x.shape());
  kernels::activation_forward(p, x.numel(), x.data(), y.data());
  Tensor xs = x.detach();
  return record(name, y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(xs.shape());
                  kernels::activation_backward(p, dx.numel(), xs.data(), dy.data(), dx.data());
                  return {dx};
                });
}

}  // namespace

Tensor leaky_relu(const Tensor& x, float negative_slope) {
  PCNN_CHECK(std::isfinite(negative_slope), "leaky_relu: negative_slope must be finite, got ",
             negative_slope);
  return activation_op("leaky_relu", {ActivationOp::LeakyRelu, negative_slope}, x);
}

Tensor elu(const Tensor& x, float alpha) {
  PCNN_CHECK(std::isfinite(alpha), "elu: alpha must be finite, got ", alpha);
  return activation_op("elu", {ActivationOp::Elu, alpha}, x);
}

Tensor gelu(const Tensor& x, bool approximate) {
  return activation_op("gelu", {approximate ? ActivationOp::GeluTanh : ActivationOp::Gelu}, x);
}

Tensor silu(const Tensor& x) {
  return activation_op("silu", {ActivationOp::Silu}, x);
}

Tensor hard_sigmoid(const Tensor& x) {
  return activation_op("hard_sigmoid", {ActivationOp::HardSigmoid}, x);
}

Tensor softplus(const Tensor& x) {
  return activation_op("softplus", {ActivationOp::Softplus}, x);
}

}  // namespace pocketcnn
