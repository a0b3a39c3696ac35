#include "pocketcnn/cpu.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "pocketcnn/error.h"
#include "pocketcnn/limits.h"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pocketcnn {

namespace {
int default_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_num_threads()};
  return n;
}

Isa detect_best_isa() {
#if defined(POCKETCNN_X86) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports checks cpuid *and* that the OS saves the wider registers (XCR0), so a
  // hypervisor that hides AVX-512 state is handled too.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return Isa::avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::scalar;
}

// The ISA this thread's current op runs with (-1: none pinned, follow the cap); see IsaPin.
thread_local int t_pinned_isa = -1;
// Whether this thread is a SerialWorker (its kernels run on it alone).
thread_local bool t_serial = false;

// Whether a parallel kernel opened an OpenMP region of > 1 threads in this process (so its pool
// exists), and whether this process is a fork child that inherited a pool.
std::atomic<bool> g_pool_may_be_started{false};
std::atomic<bool> g_forked_after_threads{false};

// libgomp's pool does not survive fork(): the child's first parallel region waits forever for
// threads that only existed in the parent. A child of a process that ran threaded kernels
// therefore runs on one thread (run_parallel then opens no OpenMP region at all) and refuses
// more; the Python package warns when this happens.
void drop_to_one_thread_in_fork_child() {
  if (!g_pool_may_be_started.load()) return;
  g_forked_after_threads.store(true);
  thread_setting().store(1);
}

[[maybe_unused]] const bool g_atfork_registered = [] {
#if defined(__unix__) || defined(__APPLE__)
  pthread_atfork(nullptr, nullptr, drop_to_one_thread_in_fork_child);
#endif
  return true;
}();

// The cap: -1 until first read (then POCKETCNN_ISA or avx512).
std::atomic<int> g_cap{-1};
std::mutex g_cap_mutex;

int read_cap() {
  int cap = g_cap.load(std::memory_order_acquire);
  if (cap >= 0) return cap;
  std::lock_guard<std::mutex> lock(g_cap_mutex);
  cap = g_cap.load(std::memory_order_relaxed);
  if (cap >= 0) return cap;
  const char* env = std::getenv("POCKETCNN_ISA");
  Isa parsed = Isa::avx512;
  if (env && *env) parsed = parse_isa(env, "environment variable POCKETCNN_ISA");
  cap = static_cast<int>(parsed);
  g_cap.store(cap, std::memory_order_release);
  return cap;
}
}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return "scalar";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "unknown";
}

Isa parse_isa(const std::string& name, const char* what) {
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw ValueError(str_cat(what, " must be one of 'scalar', 'avx2', 'avx512', got '", name, "'"));
}

Isa cpu_best_isa() {
  static const Isa best = detect_best_isa();
  return best;
}

bool cpu_supports(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(cpu_best_isa());
}

Isa isa_cap() {
  return static_cast<Isa>(read_cap());
}

Isa active_isa() {
  if (t_pinned_isa >= 0) return static_cast<Isa>(t_pinned_isa);
  const int cap = read_cap();
  const int best = static_cast<int>(cpu_best_isa());
  return static_cast<Isa>(cap < best ? cap : best);
}

Isa set_isa_cap(Isa cap) {
  read_cap();  // an invalid POCKETCNN_ISA still reports once
  g_cap.store(static_cast<int>(cap), std::memory_order_release);
  return active_isa();
}

IsaPin::IsaPin() : owner_(t_pinned_isa < 0) {
  if (owner_) t_pinned_isa = static_cast<int>(active_isa());
}

IsaPin::~IsaPin() {
  if (owner_) t_pinned_isa = -1;
}

void set_num_threads(int64_t n) {
  PCNN_CHECK(n >= 1 && n <= limits::kMaxThreads, "set_num_threads: n must be from 1 to ",
             limits::kMaxThreads, " (pocketcnn::limits::kMaxThreads), got ", n);
  if (n > 1 && g_forked_after_threads.load()) {
    throw StateError(str_cat(
        "set_num_threads(", n,
        "): this process was forked after threaded work, and OpenMP's "
        "thread pool does not survive fork(), so it runs on 1 thread; start worker processes "
        "with multiprocessing's 'spawn' or 'forkserver' method to use threads in them"));
  }
  thread_setting().store(static_cast<int>(n));
}

int get_num_threads() {
  return t_serial ? 1 : thread_setting().load();
}

SerialWorker::SerialWorker(Isa isa) : saved_isa_(t_pinned_isa), saved_serial_(t_serial) {
  t_pinned_isa = static_cast<int>(isa);
  t_serial = true;
}

SerialWorker::~SerialWorker() {
  t_pinned_isa = saved_isa_;
  t_serial = saved_serial_;
}

void note_thread_pool_started() {
  // Read first: after the first region this is a shared read, not a write every region.
  if (!g_pool_may_be_started.load(std::memory_order_relaxed)) g_pool_may_be_started.store(true);
}

bool forked_after_threads() {
  return g_forked_after_threads.load();
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace pocketcnn
