// Activations, softmax, losses and tensor arithmetic. Python-level conveniences (scalars on
// either side, dim=None, reshape varargs) are resolved in python/pocketcnn/ops/_math.py; these
// take tensors (or numeric arrays) and plain numbers.
#include <optional>

#include "bind.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

namespace {

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
using ScalarFn = Tensor (*)(const Tensor&, float);

// Each def_* names the arguments "input" (and "other"/"scalar") as the Python wrappers do.
void def_binary(py::module_& m, const char* name, BinaryFn fn, const char* doc) {
  const std::string in = std::string(name) + ": input", other = std::string(name) + ": other";
  m.def(
      name,
      [fn, in, other](py::handle a, py::handle b) {
        Tensor at = to_tensor(a, in.c_str()), bt = to_tensor(b, other.c_str());
        OpScope op;
        return fn(at, bt);
      },
      "input"_a, "other"_a, doc);
}

void def_scalar(py::module_& m, const char* name, ScalarFn fn, const char* doc) {
  const std::string what = std::string(name) + ": input";
  m.def(
      name,
      [fn, what](py::handle x, float s) {
        Tensor xt = to_tensor(x, what.c_str());
        OpScope op;
        return fn(xt, s);
      },
      "input"_a, "scalar"_a, doc);
}

// 0, 1, ..., ndim-1: dims=None with keepdim=True reduces every dim but keeps them as size 1.
std::vector<int64_t> all_dims(const Tensor& t) {
  std::vector<int64_t> dims(t.shape().size());
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(i);
  return dims;
}

}  // namespace

void def_unary(py::module_& m, const char* name, Tensor (*fn)(const Tensor&), const char* doc) {
  const std::string what = std::string(name) + ": input";
  m.def(
      name,
      [fn, what](py::handle x) {
        Tensor xt = to_tensor(x, what.c_str());
        OpScope op;
        return fn(xt);
      },
      "input"_a, doc);
}

void bind_math_ops(py::module_& m) {
  // ---- activations, softmax, losses ----
  def_unary(m, "relu", &relu, "max(input, 0) elementwise.");
  def_unary(m, "sigmoid", &sigmoid, "1 / (1 + exp(-input)) elementwise, without overflow.");
  def_unary(m, "tanh", &pocketcnn::tanh, "tanh(input) elementwise.");
  m.def(
      "softmax",
      [](py::handle x, int64_t dim) {
        Tensor xt = to_tensor(x, "softmax: input");
        OpScope op;
        return softmax(xt, dim);
      },
      "input"_a, "dim"_a = -1, "Softmax along dim (max-subtracted, stable).");
  m.def(
      "log_softmax",
      [](py::handle x, int64_t dim) {
        Tensor xt = to_tensor(x, "log_softmax: input");
        OpScope op;
        return log_softmax(xt, dim);
      },
      "input"_a, "dim"_a = -1, "log(softmax(input)) along dim, computed stably.");
  m.def(
      "cross_entropy",
      [](py::handle logits, py::handle labels) {
        Tensor lt = to_tensor(logits, "cross_entropy: input");
        std::vector<int64_t> lab = to_labels(labels, "cross_entropy: target");
        OpScope op;
        return cross_entropy(lt, lab);
      },
      "input"_a, "target"_a,
      "Mean cross-entropy of logits (N, C) against integer labels (N,) in [0, C); 0-d result.");
  m.def(
      "mse_loss",
      [](py::handle pred, py::handle target) {
        Tensor pt = to_tensor(pred, "mse_loss: input"), tt = to_tensor(target, "mse_loss: target");
        OpScope op;
        return mse_loss(pt, tt);
      },
      "input"_a, "target"_a, "Mean of (input - target)^2 over all elements; same shapes; 0-d.");

  // ---- arithmetic ----
  def_binary(m, "add", &add, "input + other with numpy broadcasting.");
  def_binary(m, "add_relu", &add_relu, "relu(input + other) for inputs of one shape, in one pass.");
  def_binary(m, "sub", &sub, "input - other with numpy broadcasting.");
  def_binary(m, "mul", &mul, "input * other with numpy broadcasting.");
  def_binary(m, "div", &div, "input / other with numpy broadcasting.");
  def_binary(m, "matmul", &matmul, "input @ other for 1-D and 2-D operands (numpy rules).");
  def_scalar(m, "add_scalar", &add_scalar, "input + scalar.");
  def_scalar(m, "mul_scalar", &mul_scalar, "input * scalar.");
  def_scalar(m, "rsub_scalar", &rsub_scalar, "scalar - input.");
  def_scalar(m, "rdiv_scalar", &rdiv_scalar, "scalar / input.");
  def_scalar(m, "pow_scalar", &pow_scalar, "input ** scalar.");
  def_unary(m, "neg", &neg, "-input.");
  def_unary(m, "exp", &pocketcnn::exp, "exp(input) elementwise.");
  def_unary(m, "log", &pocketcnn::log, "Natural log elementwise (-inf at 0, nan below, as numpy).");

  // ---- reductions, reshape ----
  m.def(
      "sum",
      [](py::handle x, std::optional<std::vector<int64_t>> dims, bool keepdim) {
        Tensor xt = to_tensor(x, "sum: input");
        OpScope op;
        if (!dims && !keepdim) return sum(xt);
        if (!dims) dims = all_dims(xt);
        return sum(xt, *dims, keepdim);
      },
      "input"_a, "dims"_a = py::none(), "keepdim"_a = false,
      "Sum over all elements (dims=None) or over the given dims.");
  m.def(
      "mean",
      [](py::handle x, std::optional<std::vector<int64_t>> dims, bool keepdim) {
        Tensor xt = to_tensor(x, "mean: input");
        OpScope op;
        if (!dims && !keepdim) return mean(xt);
        if (!dims) dims = all_dims(xt);
        return mean(xt, *dims, keepdim);
      },
      "input"_a, "dims"_a = py::none(), "keepdim"_a = false,
      "Mean over all elements (dims=None) or over the given dims.");
  m.def(
      "reshape",
      [](py::handle x, const Shape& shape) {
        Tensor xt = to_tensor(x, "reshape: input");
        OpScope op;
        return reshape(xt, shape);
      },
      "input"_a, "shape"_a, "Same data in a new shape; one size may be -1 (inferred).");
}

}  // namespace pocketcnn::bindings
