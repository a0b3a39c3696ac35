#include "pocketcnn/cpu.h"

#include <atomic>

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
}  // namespace

void set_num_threads(int n) {
  PCNN_CHECK(n >= 1, "set_num_threads: n must be >= 1, got ", n);
  thread_setting().store(n);
}

int get_num_threads() {
  return thread_setting().load();
}

}  // namespace pocketcnn
