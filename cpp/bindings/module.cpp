// pocketcnn._core: the compiled core. The Python package `pocketcnn` wraps it; users should not
// need to import it directly.
#include "bind.h"
#include "pocketcnn/error.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "pocketcnn's C++ core: tensors, the autograd tape and the CNN kernels";

  // Most-derived first: pocketcnn::TypeError is also a std::invalid_argument.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pocketcnn::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const pocketcnn::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const pocketcnn::StateError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  pocketcnn::bindings::bind_tensor(m);
  pocketcnn::bindings::bind_nn_ops(m);
  pocketcnn::bindings::bind_math_ops(m);
  pocketcnn::bindings::bind_activation_ops(m);
  pocketcnn::bindings::bind_optim(m);
  pocketcnn::bindings::bind_cpu(m);
  pocketcnn::bindings::bind_graph(m);
  pocketcnn::bindings::register_exit_guard(m);
}
