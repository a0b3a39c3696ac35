// Activations, softmax, losses and tensor arithmetic.
#include "bind.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

void bind_math_ops(py::module_& m) {}

}  // namespace pocketcnn::bindings
