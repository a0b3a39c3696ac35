#include "pocketcnn/cpu.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "pocketcnn/error.h"

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
  const int cap = read_cap();
  const int best = static_cast<int>(cpu_best_isa());
  return static_cast<Isa>(cap < best ? cap : best);
}

Isa set_isa_cap(Isa cap) {
  read_cap();  // an invalid POCKETCNN_ISA still reports once
  g_cap.store(static_cast<int>(cap), std::memory_order_release);
  return active_isa();
}

void set_num_threads(int n) {
  PCNN_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  thread_setting().store(n);
}

int get_num_threads() {
  return thread_setting().load();
}

bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace pocketcnn
