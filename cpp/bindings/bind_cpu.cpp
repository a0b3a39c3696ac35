// ISA dispatch and CPU information: pc.cpu_info(), and the ISA cap for tests and benchmarks.
#include <string>

#include "bind.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

namespace {
py::list isa_list(bool (*keep)(Isa)) {
  py::list out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (keep(isa)) out.append(isa_name(isa));
  }
  return out;
}

bool compiled(Isa isa) {
#ifdef POCKETCNN_X86
  return true;
#else
  return isa == Isa::scalar;
#endif
}
}  // namespace

void bind_cpu(py::module_& m) {
  m.def(
      "cpu_info",
      []() {
        py::dict d;
        d["isa"] = isa_name(active_isa());
        d["isa_cap"] = isa_name(isa_cap());
        d["cpu_best_isa"] = isa_name(cpu_best_isa());
        d["supported_isas"] = isa_list([](Isa i) { return cpu_supports(i); });
        d["compiled_isas"] = isa_list(&compiled);
        d["num_threads"] = get_num_threads();
        d["openmp"] = has_openmp();
        return d;
      },
      "What the kernels run on: the ISA in use ('isa'), the cap (POCKETCNN_ISA or set_isa_cap), "
      "the best ISA of this CPU, the ISAs it supports and the ones compiled in, the number of "
      "threads, and whether OpenMP is available.");
  m.def(
      "set_isa_cap",
      [](const std::string& name) {
        return std::string(isa_name(set_isa_cap(parse_isa(name, "isa"))));
      },
      "isa"_a,
      "Caps the kernels' ISA ('scalar', 'avx2' or 'avx512'; capped further by what the CPU "
      "supports) and returns the ISA now in use. For tests and benchmarks.");
}

}  // namespace pocketcnn::bindings
