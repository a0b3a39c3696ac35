// leaky_relu, elu, gelu, silu, hard_sigmoid, softplus (pocketcnn/activations.h). The Python
// wrappers (python/pocketcnn/ops/_activations.py) check the parameters' types and PyTorch's
// spellings; these take a tensor (or numeric array) and plain numbers.
#include "bind.h"
#include "pocketcnn/activations.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

void bind_activation_ops(py::module_& m) {
  m.def(
      "leaky_relu",
      [](py::handle x, float negative_slope) {
        Tensor xt = to_tensor(x, "leaky_relu: input");
        OpScope op;
        return leaky_relu(xt, negative_slope);
      },
      "input"_a, "negative_slope"_a = 0.2f,
      "input > 0 ? input : negative_slope * input elementwise.");
  m.def(
      "elu",
      [](py::handle x, float alpha) {
        Tensor xt = to_tensor(x, "elu: input");
        OpScope op;
        return elu(xt, alpha);
      },
      "input"_a, "alpha"_a = 1.0f, "input > 0 ? input : alpha * (exp(input) - 1) elementwise.");
  m.def(
      "gelu",
      [](py::handle x, bool approximate) {
        Tensor xt = to_tensor(x, "gelu: input");
        OpScope op;
        return gelu(xt, approximate);
      },
      "input"_a, "approximate"_a = false,
      "input * Phi(input) (erf form), or the tanh form with approximate=True.");
  def_unary(m, "silu", &silu, "input * sigmoid(input) elementwise (swish).");
  def_unary(m, "hard_sigmoid", &hard_sigmoid,
            "relu6(input + 3) / 6 elementwise (Keras 3 and PyTorch's hardsigmoid).");
  def_unary(m, "softplus", &softplus, "log(1 + exp(input)) elementwise, without overflow.");
}

}  // namespace pocketcnn::bindings
