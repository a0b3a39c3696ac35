// The runtime: ISA dispatch and CPU information (pc.cpu_info(), the ISA cap for tests and
// benchmarks) and the tensor memory cache (pc.empty_cache(), pc.memory_stats()).
#include <string>

#include "bind.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_geometry.h"
#include "peak/peak.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/limits.h"
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

// Backward kernels of one convolution, called directly (benchmarks time them alone, as they time
// PyTorch's aten::convolution_backward). Checks everything so bad input is a ValueError.
py::tuple conv2d_backward_kernels(const Tensor& x, const Tensor& w, const Tensor& dy,
                                  int64_t stride, int64_t pad, bool input_grad, bool weight_grad) {
  PCNN_CHECK(x.ndim() == 4 && w.ndim() == 4 && dy.ndim() == 4,
             "_conv2d_backward: x, w, dy must be 4-D, got ", shape_str(x.shape()), ", ",
             shape_str(w.shape()), ", ", shape_str(dy.shape()));
  const kernels::Conv2dGeometry g = kernels::make_conv2d_geometry(
      x.shape(), w.shape(), {stride, stride, pad, pad, pad, pad}, "_conv2d_backward");
  PCNN_CHECK(dy.shape() == Shape({g.N, g.K, g.P, g.Q}), "_conv2d_backward: dy must have shape ",
             shape_str({g.N, g.K, g.P, g.Q}), ", got ", shape_str(dy.shape()));
  Tensor dx, dw, db;
  {
    OpScope op;
    if (input_grad) dx = Tensor::empty(x.shape());
    if (weight_grad) dw = Tensor::empty(w.shape()), db = Tensor::empty({g.K});
    kernels::conv2d_backward(g, x.data(), w.data(), dy.data(), input_grad ? dx.data() : nullptr,
                             weight_grad ? dw.data() : nullptr, weight_grad ? db.data() : nullptr);
  }
  auto opt = [](const Tensor& t) -> py::object { return t.defined() ? py::cast(t) : py::none(); };
  return py::make_tuple(opt(dx), opt(dw), opt(db));
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
  m.def(
      "_fma_peak",
      [](int threads, double seconds) {
        PCNN_CHECK(threads >= 1 && seconds > 0 && seconds < 60,
                   "_fma_peak: threads >= 1 and 0 < seconds < 60");
        OpScope op;
        return kernels::fma_peak_gflops(threads, seconds);
      },
      "threads"_a = 1, "seconds"_a = 0.2,
      "FP32 FMA peak (GFLOP/s) of the active ISA on `threads` threads, measured now with "
      "register-only FMA chains (0 for the scalar ISA). For the benchmarks' % of peak.");
  m.def(
      "_conv2d_backward",
      [](py::handle x, py::handle w, py::handle dy, int64_t stride, int64_t padding,
         bool input_grad, bool weight_grad) {
        return conv2d_backward_kernels(to_tensor(x, "x"), to_tensor(w, "w"), to_tensor(dy, "dy"),
                                       stride, padding, input_grad, weight_grad);
      },
      "x"_a, "w"_a, "dy"_a, "stride"_a = 1, "padding"_a = 0, "input_grad"_a = true,
      "weight_grad"_a = true,
      "(dx, dw, db) of conv2d from the backward kernels alone (None where not asked). For "
      "benchmarks.");
  py::class_<InferencePlan>(m, "_InferencePlan", R"doc(
A compiled forward pass for inference (used by Sequential.predict/evaluate): the layers run as one
C++ call with conv + bias + ReLU + 2x2 max pool fused. Built by pocketcnn._inference.
)doc")
      .def(py::init<>())
      .def(
          "add_conv2d",
          [](InferencePlan& p, py::handle w, py::handle b, int64_t sh, int64_t sw, int64_t pt,
             int64_t pl, int64_t pb, int64_t pr, const std::string& act, int64_t dh, int64_t dw,
             int64_t groups) {
            Conv2dOptions o;
            o.stride_h = sh, o.stride_w = sw, o.pad_top = pt, o.pad_left = pl, o.pad_bottom = pb,
            o.pad_right = pr;
            o.dilation_h = dh, o.dilation_w = dw, o.groups = groups;  // conv2d_grouped checks them
            p.add_conv2d(to_tensor(w, "add_conv2d: weight"),
                         to_optional_tensor(b, "add_conv2d: bias"), o, act);
          },
          "weight"_a, "bias"_a, "stride_h"_a, "stride_w"_a, "pad_top"_a, "pad_left"_a,
          "pad_bottom"_a, "pad_right"_a, "activation"_a, "dilation_h"_a = 1, "dilation_w"_a = 1,
          "groups"_a = 1)
      .def(
          "add_pool2d",
          [](InferencePlan& p, bool is_max, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
             int64_t ph, int64_t pw, bool count_include_pad, int64_t eh, int64_t ew) {
            Pool2dOptions o;
            o.kernel_h = kh, o.kernel_w = kw, o.stride_h = sh, o.stride_w = sw, o.pad_h = ph,
            o.pad_w = pw, o.count_include_pad = count_include_pad, o.extra_h = eh, o.extra_w = ew;
            if (is_max) {
              p.add_max_pool2d(o);
            } else {
              p.add_avg_pool2d(o);
            }
          },
          "is_max"_a, "kernel_h"_a, "kernel_w"_a, "stride_h"_a, "stride_w"_a, "pad_h"_a, "pad_w"_a,
          "count_include_pad"_a = true, "extra_h"_a = 0, "extra_w"_a = 0)
      .def("add_flatten", &InferencePlan::add_flatten)
      .def("add_reshape", &InferencePlan::add_reshape, "shape"_a)
      .def("add_zero_pad2d", &InferencePlan::add_zero_pad2d, "top"_a, "bottom"_a, "left"_a,
           "right"_a)
      .def(
          "add_linear",
          [](InferencePlan& p, py::handle w, py::handle b, const std::string& act) {
            p.add_linear(to_tensor(w, "add_linear: weight"),
                         to_optional_tensor(b, "add_linear: bias"), act);
          },
          "weight"_a, "bias"_a, "activation"_a)
      .def("add_activation", &InferencePlan::add_activation, "activation"_a)
      .def(
          "add_batch_norm",
          [](InferencePlan& p, py::handle gamma, py::handle beta, py::handle mean, py::handle var,
             double eps, const std::string& act) {
            p.add_batch_norm(to_optional_tensor(gamma, "add_batch_norm: gamma"),
                             to_optional_tensor(beta, "add_batch_norm: beta"),
                             to_tensor(mean, "add_batch_norm: mean"),
                             to_tensor(var, "add_batch_norm: var"), eps, act);
          },
          "gamma"_a, "beta"_a, "mean"_a, "var"_a, "eps"_a, "activation"_a)
      .def("__len__", &InferencePlan::size)
      .def(
          "run",
          [](const InferencePlan& p, py::handle x) {
            Tensor xt = to_tensor(x, "input");
            OpScope op;
            return p.run(xt);
          },
          "x"_a, "The forward pass of x (no graph recorded).");
  m.def(
      "limits",
      []() {
        py::dict d;
        d["max_tensor_elements"] = limits::kMaxTensorElements;
        d["max_tensor_bytes"] = limits::kMaxTensorBytes;
        d["max_threads"] = limits::kMaxThreads;
        d["max_file_header_bytes"] = limits::kMaxFileHeaderBytes;
        d["max_cache_bytes"] = limits::kMaxCacheBytes;
        return d;
      },
      "The resource limits (pocketcnn/limits.h): largest tensor (elements, bytes), most threads, "
      "largest file header parsed, largest memory cache. Exceeding one raises ValueError.");
  m.def("forked_after_threads", &forked_after_threads,
        "Whether this process is a fork child dropped to 1 thread (OpenMP does not survive fork).");
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
