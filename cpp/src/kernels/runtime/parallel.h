// How kernels use threads. Rules (see ANCHORS.md for the measurements behind them):
// - A kernel fans out only when its work is worth it: waking the other core and joining costs
//   ~1-2 us with spinning workers (and ~50 us if a worker has gone to sleep), so a task smaller
//   than kMinFlopsPerThread stays on the calling thread.
// - The split is a pure function of (work, thread count): each output element is computed by
//   one thread in a fixed order, and reductions over threads are summed in thread order, so
//   results are bit-identical from run to run for a given thread count.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pocketcnn::kernels {

// ~20 us of FMA work on one core of this machine: below that, a second thread does not pay.
constexpr double kMinFlopsPerThread = 2.0e6;

// Threads to use for `tasks` independent tasks totalling `flops` of work, at most `max_threads`.
inline int threads_for(int64_t tasks, double flops, int max_threads) {
  int64_t by_work = static_cast<int64_t>(flops / kMinFlopsPerThread);
  int64_t t = std::min<int64_t>({static_cast<int64_t>(max_threads), tasks, by_work});
  return static_cast<int>(std::max<int64_t>(t, 1));
}

// Bytes a memory-bound task must move before a second thread pays (~5-10 us at memory speed).
constexpr double kMinBytesPerThread = 256.0 * 1024;

// threads_for for memory-bound work: `tasks` tasks moving `bytes` in total.
inline int threads_for_bytes(int64_t tasks, double bytes, int max_threads) {
  return threads_for(tasks, bytes / kMinBytesPerThread * kMinFlopsPerThread, max_threads);
}

// Task range [begin, end) of thread `tid` out of `nt` for `n` tasks: contiguous, balanced.
inline void split_range(int64_t n, int nt, int tid, int64_t* begin, int64_t* end) {
  const int64_t base = n / nt, extra = n % nt;
  *begin = tid * base + std::min<int64_t>(tid, extra);
  *end = *begin + base + (tid < extra ? 1 : 0);
}

// Runs fn(tid, nt) on nt threads (nt == 1: inline, no OpenMP region at all).
template <typename Fn>
void run_parallel(int nt, Fn&& fn) {
#ifdef _OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      // OpenMP may give fewer threads than asked (nested regions, limits): use what we got, and
      // keep the split a function of the real count.
      fn(omp_get_thread_num(), omp_get_num_threads());
    }
    return;
  }
#endif
  fn(0, 1);
}

// fn(begin, end) over a contiguous split of [0, n) on nt threads.
template <typename Fn>
void parallel_for(int64_t n, int nt, Fn&& fn) {
  run_parallel(nt, [&](int tid, int real_nt) {
    int64_t b, e;
    split_range(n, real_nt, tid, &b, &e);
    if (b < e) fn(b, e);
  });
}

}  // namespace pocketcnn::kernels
