// The pieces of the pocketcnn._core module, one function per source file, and the helpers they
// share for turning Python objects into tensors. The bindings are thin: they convert, check what
// only Python can check (types, dtypes), release the GIL, and call the C++ core.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <vector>

#include "op_scope.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::bindings {

namespace py = pybind11;

void bind_tensor(py::module_& m);    // bind_tensor.cpp: Tensor, grad mode, threads
void bind_nn_ops(py::module_& m);    // bind_nn_ops.cpp: conv2d, pooling, flatten, linear
void bind_math_ops(py::module_& m);  // bind_math_ops.cpp: activations, losses, arithmetic
void bind_optim(py::module_& m);     // bind_optim.cpp: optimiser parameter updates
void bind_cpu(py::module_& m);       // bind_cpu.cpp: ISA dispatch and CPU information
void bind_graph(py::module_& m);     // bind_graph.cpp: the inference plan of graph models
// bind_activation_ops.cpp: leaky_relu, elu, gelu, silu, hard_sigmoid, softplus
void bind_activation_ops(py::module_& m);

// A pocketcnn Tensor from a Tensor (shared, not copied) or anything numpy can turn into a numeric
// array. A C-contiguous, writeable float32 array is wrapped without a copy; anything else numeric
// (float64, ints, bools, non-contiguous views) is copied to float32. Raises TypeError naming
// `what` for non-numeric input.
Tensor to_tensor(py::handle obj, const char* what);
// None -> undefined Tensor, else to_tensor.
Tensor to_optional_tensor(py::handle obj, const char* what);
// Integer class labels (a 1-D array of ints) as int64; raises TypeError for non-integer dtypes
// and ValueError for other than 1-D.
std::vector<int64_t> to_labels(py::handle obj, const char* what);
// m.def(name, fn) for a one-tensor op: the argument is named "input" as in the Python wrappers and
// converted by to_tensor, whose errors name `name`.
void def_unary(py::module_& m, const char* name, Tensor (*fn)(const Tensor&), const char* doc);
// dlpack_capsule.cpp: a DLPack capsule sharing `tensor`'s data (kept alive until the consumer's
// deleter runs): "dltensor_versioned" (DLPack 1.0) when `versioned`, else legacy "dltensor".
// `copied` marks a capsule made from a copy (copy=True).
py::object dlpack_capsule(const Tensor& tensor, bool versioned, bool copied);
// buffer_views.cpp: counts the live numpy views of every Tensor (DataVersion::live_views) and
// bumps its version when one is released. Called once on the Tensor class.
void count_buffer_views(py::handle tensor_type);

}  // namespace pocketcnn::bindings
