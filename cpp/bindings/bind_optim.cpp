#include "bind.h"

namespace pocketcnn::bindings {

void bind_optim(py::module_& m) {}

}  // namespace pocketcnn::bindings
