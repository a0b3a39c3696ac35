// What every binding does around C++ work: release the GIL, pin the ISA for the whole op, and
// take the GIL back only if the interpreter is not exiting.
//
// A daemon thread may still be inside an op when the interpreter exits. Re-taking the GIL after
// finalisation began makes CPython end the thread with pthread_exit, whose unwinding through a
// noexcept destructor (pybind11's gil_scoped_release) called std::terminate: SIGABRT at exit.
// OpScope instead parks such a thread for good (it never runs Python again, which is what
// CPython 3.14 itself does), so the process exits normally with its exit code.
#pragma once

#include <pybind11/pybind11.h>

#include "pocketcnn/cpu.h"

namespace pocketcnn::bindings {

class OpScope {
 public:
  OpScope();
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  IsaPin isa_pin_;
  PyThreadState* state_;
};

// True once the interpreter started exiting (atexit ran, or finalisation began). Code that would
// take the GIL from a thread that does not hold it must not do so then.
bool interpreter_exiting();

// Registers the atexit hook that marks the exit (called once from the module init).
void register_exit_guard(pybind11::module_& m);

}  // namespace pocketcnn::bindings
