// The inference plan of functional (graph) models, _core._GraphPlan (built by
// pocketcnn._graph_inference from a Model's layer calls).
#include <string>
#include <vector>

#include "bind.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/inference_graph.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

void bind_graph(py::module_& m) {
  py::class_<GraphPlan>(m, "_GraphPlan", R"doc(
The inference plan of a graph model (used by Model.predict/evaluate): steps over numbered value
slots (0 is the input), each a chain of Sequential plan steps, a residual sum (with the ReLU after
it fused) or a concat; buffers are released after their last reader. Built by
pocketcnn._graph_inference.
)doc")
      .def(py::init<>())
      .def("add_chain", &GraphPlan::add_chain, "input"_a, "chain"_a,
           "Runs an _InferencePlan on slot `input`; returns the slot it writes.")
      .def("add_sum", &GraphPlan::add_sum, "inputs"_a, "activation"_a,
           "The elementwise sum of the slots, then the activation, in one pass.")
      .def("add_concat", &GraphPlan::add_concat, "inputs"_a, "dim"_a)
      .def("set_output", &GraphPlan::set_output, "slot"_a)
      .def("__len__", &GraphPlan::size)
      .def(
          "run",
          [](const GraphPlan& p, py::handle x) {
            Tensor xt = to_tensor(x, "input");
            OpScope op;
            return p.run(xt);
          },
          "x"_a, "The forward pass of x (no graph recorded).");
}

}  // namespace pocketcnn::bindings
