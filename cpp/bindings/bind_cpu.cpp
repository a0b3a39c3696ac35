// The runtime: ISA dispatch and CPU information (pc.cpu_info(), the ISA cap for tests and
// benchmarks) and the tensor memory cache (pc.empty_cache(), pc.memory_stats()).
#include <string>

#include "bind.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/memory.h"

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
  m.def("empty_cache", &empty_cache,
        "Returns the tensor memory cache's free blocks to the operating system.");
  m.def(
      "set_cache_cap", [](int64_t bytes) { set_cache_cap(bytes); }, "bytes"_a,
      "Most bytes the tensor memory cache keeps for reuse (0 disables it).");
  m.def(
      "memory_stats",
      []() {
        const MemoryStats s = memory_stats();
        py::dict d;
        d["cached_bytes"] = s.cached_bytes;
        d["in_use_bytes"] = s.in_use_bytes;
        d["cap_bytes"] = s.cap_bytes;
        d["hits"] = s.hits;
        d["misses"] = s.misses;
        return d;
      },
      "The tensor memory cache: bytes cached for reuse and in use (blocks of 16 KiB and more), "
      "the cap, and how many allocations were served from the cache (hits) or the OS (misses).");
}

}  // namespace pocketcnn::bindings
