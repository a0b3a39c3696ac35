// Tensor <-> numpy (zero-copy both ways), autograd state, grad mode and threads.
#include <cstring>
#include <string>

#include "bind.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

namespace {

// Keeps a Python object alive for as long as a tensor uses its memory. The last tensor may die
// on a thread that does not hold the GIL (the bindings release it around C++ work), so the
// deleter takes the GIL before touching Python.
std::shared_ptr<void> keep_alive(py::object obj) {
  return std::shared_ptr<void>(new py::object(std::move(obj)), [](void* p) {
    auto* o = static_cast<py::object*>(p);
    // Interpreter gone, or exiting and this thread without the GIL (taking it then would end
    // the thread inside this noexcept deleter): leaking is the only safe choice.
    if (!Py_IsInitialized() || (interpreter_exiting() && !PyGILState_Check())) return;
    py::gil_scoped_acquire gil;
    delete o;
  });
}

Shape shape_of(const py::array& a) {
  Shape s;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s.push_back(static_cast<int64_t>(a.shape(i)));
  return s;
}

py::array as_numeric_array(py::handle obj, const char* what) {
  py::module_ np = py::module_::import("numpy");
  py::array arr;
  try {
    arr = np.attr("asarray")(obj);
  } catch (py::error_already_set& e) {
    throw TypeError(str_cat(what, " must be a Tensor or a numeric array, got ",
                            std::string(py::str(py::type::of(obj).attr("__name__"))), " (",
                            e.what(), ")"));
  }
  const char kind = arr.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
    throw TypeError(str_cat(what, " must be a numeric array (float, int or bool), got dtype ",
                            std::string(py::str(arr.dtype())),
                            (kind == 'c' ? " (complex numbers are not supported)" : "")));
  }
  return arr;
}

std::string repr(const Tensor& t) {
  py::module_ np = py::module_::import("numpy");
  py::object view = py::cast(t).attr("numpy")();
  std::string body =
      py::str(np.attr("array2string")(view, "separator"_a = ", ", "prefix"_a = "tensor("));
  std::string s = "tensor(" + body;
  if (t.grad_fn()) {
    s += ", grad_fn=" + t.grad_fn()->name;
  } else if (t.requires_grad()) {
    s += ", requires_grad=True";
  }
  return s + ")";
}

// Tensor.__dlpack__ (the Python array API's keyword-only signature).
py::object dlpack(const Tensor& t, py::object stream, py::object max_version, py::object dl_device,
                  py::object copy) {
  if (!stream.is_none()) {
    throw py::buffer_error("Tensor.__dlpack__: stream must be None for a CPU tensor, got " +
                           std::string(py::repr(stream)));
  }
  if (!dl_device.is_none()) {
    auto dev = dl_device.cast<std::pair<int, int>>();
    if (dev.first != 1 || dev.second != 0) {
      throw py::buffer_error(
          str_cat("Tensor.__dlpack__: a pocketcnn tensor lives on the CPU (1, 0); ",
                  "cannot export it to device (", dev.first, ", ", dev.second, ")"));
    }
  }
  bool versioned = false;
  if (!max_version.is_none()) {
    auto version = max_version.cast<std::pair<int, int>>();
    versioned = version.first >= 1;
  }
  const bool copied = !copy.is_none() && copy.cast<bool>();
  if (!t.defined()) throw ValueError("Tensor.__dlpack__: undefined tensor");
  return dlpack_capsule(copied ? t.clone() : t, versioned, copied);
}

}  // namespace

Tensor to_tensor(py::handle obj, const char* what) {
  if (obj.is_none()) throw TypeError(str_cat(what, " must be a Tensor or array, got None"));
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  py::array arr = as_numeric_array(obj, what);
  const Shape shape = shape_of(arr);
  shape_numel(shape);  // validates
  const bool zero_copy = arr.dtype().is(py::dtype::of<float>()) &&
                         (arr.flags() & py::array::c_style) && arr.writeable() &&
                         reinterpret_cast<uintptr_t>(arr.data()) % alignof(float) == 0;
  if (zero_copy) {
    return Tensor::wrap(static_cast<float*>(arr.mutable_data()), shape, keep_alive(arr));
  }
  py::module_ np = py::module_::import("numpy");
  py::array_t<float, py::array::c_style> f32 =
      np.attr("ascontiguousarray")(arr, "dtype"_a = "float32");
  Tensor t = Tensor::empty(shape);
  if (t.numel()) std::memcpy(t.data(), f32.data(), static_cast<size_t>(t.numel()) * sizeof(float));
  return t;
}

Tensor to_optional_tensor(py::handle obj, const char* what) {
  if (obj.is_none()) return Tensor();
  return to_tensor(obj, what);
}

std::vector<int64_t> to_labels(py::handle obj, const char* what) {
  py::module_ np = py::module_::import("numpy");
  py::array arr;
  if (py::isinstance<Tensor>(obj)) {
    throw TypeError(str_cat(what,
                            " must be integer class labels (a numpy int array), got a "
                            "float32 Tensor"));
  }
  try {
    arr = np.attr("asarray")(obj);
  } catch (py::error_already_set& e) {
    throw TypeError(str_cat(what, " must be an array of integer class labels (", e.what(), ")"));
  }
  const char kind = arr.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw TypeError(str_cat(what, " must be integer class labels, got dtype ",
                            std::string(py::str(arr.dtype()))));
  }
  if (arr.ndim() != 1) {
    throw ValueError(str_cat(what, " must be 1-D (N,), got shape ", shape_str(shape_of(arr))));
  }
  py::array_t<int64_t, py::array::c_style | py::array::forcecast> i64(arr);
  return std::vector<int64_t>(i64.data(), i64.data() + i64.size());
}

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(), R"doc(
A float32 tensor (NCHW for images) with autograd.

Tensor(data, requires_grad=False): wraps a C-contiguous, writeable float32 numpy array without a
copy (changes show through both ways); anything else numeric is copied to float32.
np.asarray(tensor) and tensor.numpy() give the data without a copy.
)doc")
      .def(py::init([](py::object data, bool requires_grad) {
             Tensor t = to_tensor(data, "data");
             if (py::isinstance<Tensor>(data)) t = t.detach();  // a new leaf sharing the data
             t.set_requires_grad(requires_grad);
             return t;
           }),
           "data"_a, "requires_grad"_a = false)
      .def_buffer([](Tensor& t) -> py::buffer_info {
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
        std::vector<py::ssize_t> strides(shape.size());
        py::ssize_t stride = sizeof(float);
        for (size_t i = shape.size(); i-- > 0;) {
          strides[i] = stride;
          stride *= shape[i];
        }
        return py::buffer_info(t.data(), sizeof(float), py::format_descriptor<float>::format(),
                               static_cast<py::ssize_t>(shape.size()), shape, strides);
      })
      .def(
          "numpy",
          [](py::object self) { return py::module_::import("numpy").attr("asarray")(self); },
          "The data as a numpy array (no copy: it shares memory with the tensor).")
      .def_property_readonly("shape",
                             [](const Tensor& t) {
                               py::tuple s(t.shape().size());
                               for (size_t i = 0; i < t.shape().size(); ++i) s[i] = t.shape()[i];
                               return s;
                             })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::numel, "Number of elements.")
      .def("numel", &Tensor::numel)
      .def_property_readonly("dtype", [](const Tensor&) { return py::dtype::of<float>(); })
      .def("__len__",
           [](const Tensor& t) {
             if (t.ndim() == 0) throw py::type_error("len() of a 0-d tensor");
             return t.dim(0);
           })
      .def("item", &Tensor::item, "The value of a one-element tensor as a Python float.")
      .def_property(
          "requires_grad", &Tensor::requires_grad,
          [](Tensor& t, bool v) { t.set_requires_grad(v); },
          "Whether gradients flow to this tensor. Settable on leaves.")
      .def_property(
          "grad",
          [](const Tensor& t) -> py::object {
            Tensor g = t.grad();
            if (!g.defined()) return py::none();
            return py::cast(g);
          },
          [](Tensor& t, py::object g) { t.set_grad(to_optional_tensor(g, "grad")); },
          "Accumulated gradient (a Tensor), or None before backward. Assign None to reset.")
      .def_property_readonly(
          "grad_fn",
          [](const Tensor& t) -> py::object {
            if (!t.grad_fn()) return py::none();
            return py::str(t.grad_fn()->name);
          },
          "Name of the op that produced this tensor, or None for a leaf.")
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def("detach", &Tensor::detach,
           "A tensor sharing this one's data, cut from the graph (requires_grad=False).")
      .def("clone", &Tensor::clone, "A copy of the data, with no history.")
      .def(
          "backward",
          [](const Tensor& t, py::object grad, bool retain_graph, std::vector<Tensor> watch,
             py::object on_grad_ready) {
            Tensor g = to_optional_tensor(grad, "grad");
            if (on_grad_ready.is_none()) {
              OpScope op;
              t.backward(g, retain_graph);
              return;
            }
            if (!PyCallable_Check(on_grad_ready.ptr())) {
              throw py::type_error("backward(): on_grad_ready must be callable, got " +
                                   py::repr(on_grad_ready).cast<std::string>());
            }
            // Called on this thread between two nodes' backward: take the GIL for the callback
            // only (the kernels run without it); its exception ends the backward.
            GradReadyFn ready = [&on_grad_ready](size_t index) {
              // Taking the GIL during finalisation would end this thread mid-unwind (op_scope.h)
              if (interpreter_exiting()) throw StateError("backward(): the interpreter is exiting");
              py::gil_scoped_acquire gil;
              on_grad_ready(index);
            };
            OpScope op;
            run_backward(t, g, retain_graph, watch, ready);
          },
          "grad"_a = py::none(), "retain_graph"_a = false, py::kw_only(),
          "watch"_a = std::vector<Tensor>{}, "on_grad_ready"_a = py::none(),
          "Computes gradients of this tensor with respect to every leaf that requires grad and "
          "accumulates them into their .grad. grad defaults to 1 for a one-element tensor.\n\n"
          "on_grad_ready(i) is called (on this thread, with the GIL) as soon as watch[i]'s .grad "
          "is final for this backward, while the rest of the graph still runs (to start a "
          "data-parallel allreduce of it); once per watched leaf the graph reaches. An "
          "exception it raises ends the backward.")
      .def("__dlpack__", &dlpack, py::kw_only(), "stream"_a = py::none(),
           "max_version"_a = py::none(), "dl_device"_a = py::none(), "copy"_a = py::none(),
           "A DLPack capsule sharing this tensor's data (CPU, float32, C-contiguous); the "
           "tensor's memory stays alive until the consumer releases it. copy=True shares a copy.")
      .def(
          "__dlpack_device__", [](const Tensor&) { return py::make_tuple(1, 0); },
          "(1, 0): DLPack's kDLCPU, device 0.")
      .def("__repr__", &repr)
      // Make numpy defer to Tensor's reflected operators (array + tensor -> Tensor.__radd__)
      // instead of treating a tensor as an object array.
      .def_property_readonly_static("__array_priority__", [](py::object) { return 1000; });

  m.def("is_grad_enabled", &grad_enabled, "Whether ops record the autograd graph (per thread).");
  m.def("set_grad_enabled", &set_grad_enabled, "enabled"_a);
  m.def("set_num_threads", &set_num_threads, "n"_a,
        "Number of threads the kernels may use (>= 1).");
  m.def("get_num_threads", &get_num_threads);
}

}  // namespace pocketcnn::bindings
