// The machine's FP32 FMA peak, measured with a tiny kernel (for the benchmarks' "% of peak"):
// independent FMA chains in registers, enough of them to cover the FMA latency on every pipe.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// GFLOP/s of `iterations` x (one FMA on every lane of `chains` registers) on the calling thread.
double fma_peak_avx2(int64_t iterations);
double fma_peak_avx512(int64_t iterations);

// Peak of the active ISA on `threads` threads, each running for about `seconds`; 0 for scalar.
double fma_peak_gflops(int threads, double seconds);

}  // namespace pocketcnn::kernels
