// Optimiser parameter updates, in place on the parameter and state tensors (the GIL is released
// while they run). In-place arguments must be Tensors or C-contiguous writeable float32 arrays:
// anything else would be silently copied and the update lost, so it is a TypeError instead.
#include "bind.h"
#include "pocketcnn/error.h"
#include "pocketcnn/optim.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

namespace {

Tensor to_inplace_tensor(py::handle obj, const char* what) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::isinstance<py::array>(obj)) {
    auto arr = py::reinterpret_borrow<py::array>(obj);
    if (arr.dtype().is(py::dtype::of<float>()) && (arr.flags() & py::array::c_style) &&
        arr.writeable()) {
      return to_tensor(obj, what);  // zero-copy wrap
    }
  }
  throw TypeError(str_cat(what,
                          " is updated in place, so it must be a Tensor or a C-contiguous "
                          "writeable float32 array, got ",
                          std::string(py::str(py::type::of(obj).attr("__name__")))));
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "sgd_update",
      [](py::handle param, py::handle grad, py::handle momentum_buffer, float lr, float momentum,
         float dampening, float weight_decay, bool nesterov, bool first_step) {
        Tensor p = to_inplace_tensor(param, "sgd_update: param");
        Tensor g = to_tensor(grad, "sgd_update: grad");
        Tensor buf = momentum_buffer.is_none()
                         ? Tensor()
                         : to_inplace_tensor(momentum_buffer, "sgd_update: momentum_buffer");
        SgdOptions opt{lr, momentum, dampening, weight_decay, nesterov};
        OpScope op;
        sgd_update(p, g, buf, opt, first_step);
      },
      "param"_a, "grad"_a, "momentum_buffer"_a, "lr"_a, "momentum"_a = 0.0f, "dampening"_a = 0.0f,
      "weight_decay"_a = 0.0f, "nesterov"_a = false, "first_step"_a = false,
      "One SGD step in place on param and momentum_buffer (torch.optim.SGD's formula).");

  m.def(
      "adam_update",
      [](py::handle param, py::handle grad, py::handle exp_avg, py::handle exp_avg_sq, int64_t step,
         float lr, float beta1, float beta2, float eps, float weight_decay,
         bool decoupled_weight_decay) {
        Tensor p = to_inplace_tensor(param, "adam_update: param");
        Tensor g = to_tensor(grad, "adam_update: grad");
        Tensor m1 = to_inplace_tensor(exp_avg, "adam_update: exp_avg");
        Tensor m2 = to_inplace_tensor(exp_avg_sq, "adam_update: exp_avg_sq");
        AdamOptions opt{lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay};
        OpScope op;
        adam_update(p, g, m1, m2, step, opt);
      },
      "param"_a, "grad"_a, "exp_avg"_a, "exp_avg_sq"_a, "step"_a, "lr"_a = 1e-3f, "beta1"_a = 0.9f,
      "beta2"_a = 0.999f, "eps"_a = 1e-8f, "weight_decay"_a = 0.0f,
      "decoupled_weight_decay"_a = false,
      "One Adam (or, decoupled, AdamW) step in place on param, exp_avg and exp_avg_sq "
      "(torch.optim.Adam / AdamW's formula; step counts from 1).");

  m.def(
      "sum_of_squares",
      [](const std::vector<py::handle>& tensors) {
        std::vector<Tensor> ts;
        ts.reserve(tensors.size());
        for (const auto& t : tensors) ts.push_back(to_tensor(t, "sum_of_squares: tensor"));
        OpScope op;
        return sum_of_squares(ts);
      },
      "tensors"_a, "Sum of squares of all elements of all tensors, accumulated in double.");

  m.def(
      "scale_in_place",
      [](py::handle t, float s) {
        Tensor x = to_inplace_tensor(t, "scale_in_place: tensor");
        OpScope op;
        scale_in_place(x, s);
      },
      "tensor"_a, "scale"_a, "tensor *= scale, in place.");
}

}  // namespace pocketcnn::bindings
