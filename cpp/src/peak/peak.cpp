#include "peak/peak.h"

#include <atomic>

#include "kernels/runtime/parallel.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

double fma_peak_gflops(int threads, double seconds) {
#ifdef POCKETCNN_X86
  const Isa isa = active_isa();
  if (isa == Isa::scalar) return 0.0;
  auto run = [isa](int64_t it) {
    return isa == Isa::avx512 ? fma_peak_avx512(it) : fma_peak_avx2(it);
  };
  // Calibrate: ~2 GFLOP of work per 10 ms at these rates.
  const double rate = run(1000000);  // GFLOP/s, also the warm-up
  const double flops_per_it = isa == Isa::avx512 ? 16 * 16 * 2 : 12 * 8 * 2;
  const int64_t it = static_cast<int64_t>(seconds * rate * 1e9 / flops_per_it) + 1;
  std::atomic<double> total{0.0};
  run_parallel(threads, [&](int, int) {
    const double g = run(it);
    double cur = total.load();
    while (!total.compare_exchange_weak(cur, cur + g)) {
    }
  });
  return total.load();
#else
  (void)threads;
  (void)seconds;
  return 0.0;
#endif
}

}  // namespace pocketcnn::kernels
