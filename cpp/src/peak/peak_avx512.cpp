#include <immintrin.h>

#include <chrono>

#include "peak/peak.h"

namespace pocketcnn::kernels {

// 16 independent accumulators (ANCHORS.md: Zen 5 needs >= 12 to reach its 512-bit FMA peak).
double fma_peak_avx512(int64_t iterations) {
  __m512 a[16];
  for (int k = 0; k < 16; ++k) a[k] = _mm512_set1_ps(1.0f + 0.1f * k);  // distinct (see avx2)
  const __m512 m = _mm512_set1_ps(0.99999f), c = _mm512_set1_ps(1e-5f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) a[k] = _mm512_fmadd_ps(a[k], m, c);
    __asm__ volatile(""
                     : "+v"(a[0]), "+v"(a[1]), "+v"(a[2]), "+v"(a[3]), "+v"(a[4]), "+v"(a[5]),
                       "+v"(a[6]), "+v"(a[7]));
    __asm__ volatile(""
                     : "+v"(a[8]), "+v"(a[9]), "+v"(a[10]), "+v"(a[11]), "+v"(a[12]), "+v"(a[13]),
                       "+v"(a[14]), "+v"(a[15]));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  __m512 sum = a[0];
  for (int k = 1; k < 16; ++k) sum = _mm512_add_ps(sum, a[k]);
  alignas(64) float out[16];
  _mm512_store_ps(out, sum);
  volatile float sink = out[0];
  (void)sink;
  return static_cast<double>(iterations) * 16 * 16 * 2 / s / 1e9;
}

}  // namespace pocketcnn::kernels
