#include "bind.h"

namespace pocketcnn::bindings {

void bind_cpu(py::module_& m) {}

}  // namespace pocketcnn::bindings
