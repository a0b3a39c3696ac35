#include "op_scope.h"

#include <atomic>
#include <chrono>
#include <thread>

namespace pocketcnn::bindings {

namespace py = pybind11;

namespace {
std::atomic<bool> g_exiting{false};
// Threads between "not exiting" and holding the GIL again: the exit hook waits for them, so no
// thread can start taking the GIL after the hook returned (and finalisation begins).
std::atomic<int> g_reacquiring{0};

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

[[noreturn]] void park_forever() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

// Runs at exit (atexit, before finalisation), with the GIL.
void on_interpreter_exit() {
  g_exiting.store(true);
  py::gil_scoped_release release;
  while (g_reacquiring.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
}  // namespace

bool interpreter_exiting() {
  return g_exiting.load() || finalizing();
}

OpScope::OpScope() : state_(PyEval_SaveThread()) {}

OpScope::~OpScope() {
  g_reacquiring.fetch_add(1);
  if (g_exiting.load() || finalizing()) {
    g_reacquiring.fetch_sub(1);
    park_forever();
  }
  PyEval_RestoreThread(state_);
  g_reacquiring.fetch_sub(1);
}

void register_exit_guard(py::module_& m) {
  py::module_::import("atexit").attr("register")(
      py::cpp_function(&on_interpreter_exit, py::name("_mark_interpreter_exit")));
  (void)m;
}

}  // namespace pocketcnn::bindings
