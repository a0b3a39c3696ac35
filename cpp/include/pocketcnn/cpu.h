// The CPU as the kernels see it: which instruction set (ISA) they use, and how many threads.
//
// ISA: chosen once, on first use, as the best the CPU supports (cpuid), capped by the environment
// variable POCKETCNN_ISA=scalar|avx2|avx512 (an invalid value throws ValueError, so `import
// pocketcnn` fails loudly instead of silently testing another ISA; a cap above what the CPU has
// means "the CPU's best"). set_isa_cap() changes the cap at run time (tests run every kernel
// under every ISA this way). Every kernel exists for every ISA: `scalar` is portable C++ that
// compiles anywhere (aarch64 too); `avx2` needs AVX2+FMA; `avx512` needs AVX-512 F/BW/DQ/VL.
//
// Threads: every parallel kernel asks get_num_threads() instead of relying on OpenMP's per-thread
// state, so set_num_threads() from any Python thread applies to all later work.
#pragma once

#include <string>

namespace pocketcnn {

// Ordered: a higher value is a superset of the lower ones.
enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// "scalar" / "avx2" / "avx512" -> Isa; anything else throws ValueError naming `what`.
Isa parse_isa(const std::string& name, const char* what = "ISA");

// The best ISA this CPU (and OS: the register state must be enabled) supports.
Isa cpu_best_isa();
bool cpu_supports(Isa isa);
// The ISA the kernels use now: min(cap, cpu_best_isa()). The first call reads POCKETCNN_ISA.
Isa active_isa();
// Caps the ISA (min with what the CPU supports); returns the ISA now active. For tests and for
// comparing variants. Safe while ops run on other threads: each op (every Python entry point
// holds an IsaPin) keeps the ISA it started with; later ops use the new one.
Isa set_isa_cap(Isa cap);

// While alive, active_isa() on this thread returns the value it had when the (outermost) pin was
// made, so an op reads the ISA once: its workspace sizes and its kernels always agree even if
// set_isa_cap runs meanwhile (mixing them corrupted the heap). Nested pins keep the outer ISA.
class IsaPin {
 public:
  IsaPin();
  ~IsaPin();
  IsaPin(const IsaPin&) = delete;
  IsaPin& operator=(const IsaPin&) = delete;

 private:
  bool owner_;
};
// The cap in force (POCKETCNN_ISA, set_isa_cap, or avx512 = no cap).
Isa isa_cap();

// Number of threads parallel kernels may use (default: OpenMP's max, i.e. OMP_NUM_THREADS or the
// number of cores). n must be from 1 to limits::kMaxThreads (ValueError naming the limit). In a
// child forked after threaded work the setting is 1 and n > 1 raises StateError: OpenMP's pool
// does not survive fork() (the child would hang in its first parallel region).
void set_num_threads(int64_t n);
int get_num_threads();
// Whether this process is a fork child that was dropped to 1 thread (see set_num_threads).
bool forked_after_threads();
// While alive, this thread's ops run serially (get_num_threads() returns 1) with `isa` pinned
// (as IsaPin does): for a worker of work already spread over threads one level up (the inference
// plan runs chunks of a batch on threads), whose kernels must not open nested regions and must
// use the ISA the caller's op started with.
class SerialWorker {
 public:
  explicit SerialWorker(Isa isa);
  ~SerialWorker();
  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

 private:
  int saved_isa_;
  bool saved_serial_;
};

// Called by run_parallel before it opens a region of > 1 threads (the pool then exists).
void note_thread_pool_started();
// Whether the library was built with OpenMP (if not, every kernel runs on one thread).
bool has_openmp();

}  // namespace pocketcnn
