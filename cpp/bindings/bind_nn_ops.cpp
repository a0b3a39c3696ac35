// conv2d, pooling, flatten, linear. Argument normalisation (ints vs pairs, 'same'/'valid') is
// done by python/pocketcnn/ops; these take explicit values and check them again in C++.
#include "bind.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

void bind_nn_ops(py::module_& m) {
  m.def(
      "linear",
      [](py::handle x, py::handle w, py::handle b) {
        Tensor xt = to_tensor(x, "linear: input"), wt = to_tensor(w, "linear: weight");
        Tensor bt = to_optional_tensor(b, "linear: bias");
        py::gil_scoped_release release;
        return linear(xt, wt, bt);
      },
      "input"_a, "weight"_a, "bias"_a = py::none(),
      "y (N, out) = input (N, in) @ weight (out, in)^T + bias (out).");
}

}  // namespace pocketcnn::bindings
