// Register-block configurations of the GEMM microkernels, one per ISA (no intrinsics here, so the
// tests can also run the AVX-512 blocking with the portable 16-lane vector type).
#pragma once

#include <cstdint>

#include "kernels/gemm/gemm_impl.h"

namespace pocketcnn::kernels {

// Portable code: modest blocks; the compiler maps GenericVec<8> onto whatever SIMD it has.
struct ScalarCfg {
  static constexpr int mr_max = 4, nr_max = 2;
  static constexpr double nt_loads_per_cycle = 2.0;
  static constexpr impl::BlockShape nn_shapes[] = {{4, 2}, {3, 2}};
  static constexpr impl::BlockShape nt_shapes[] = {{4, 2}, {3, 2}};
  static constexpr double loads_per_cycle = 2.0;
  static constexpr int64_t kc = 256, lc = 1024;
};

// 16 ymm registers: an mr x nr block needs mr*nr accumulators + nr B vectors + 1 broadcast.
// 4x3 is the main shape (12 accumulators hide the 4-cycle FMA latency on two pipes); 5x2 and
// 6x2 win when the row count is a multiple of 5 or 6 (the lecture net's 25 and 50 channels).
struct Avx2Cfg {
  static constexpr int mr_max = 6, nr_max = 3;
  static constexpr impl::BlockShape nn_shapes[] = {{4, 3}, {6, 2}, {5, 2}};
  static constexpr impl::BlockShape nt_shapes[] = {{4, 3}, {6, 2}, {5, 2}};
  static constexpr double loads_per_cycle = 2.0;  // 256-bit loads per cycle on Zen 3/4
  // NT loads full vectors (no broadcasts): measured in L1 on this AMD VM, ~1 per cycle (NT 5x2:
  // 6.4 cycles per step, 78% of peak; 4x3: 6.3, 95%), so NT prefers the 4x3 block.
  static constexpr double nt_loads_per_cycle = 1.0;
  static constexpr int64_t kc = 256, lc = 1024;
};

// 32 zmm registers: same rule; 24 accumulators.
struct Avx512Cfg {
  static constexpr int mr_max = 8, nr_max = 4;
  static constexpr double nt_loads_per_cycle = 2.0;
  static constexpr impl::BlockShape nn_shapes[] = {{6, 4}, {8, 3}, {5, 4}, {7, 3}};
  static constexpr impl::BlockShape nt_shapes[] = {{6, 4}, {8, 3}, {5, 4}, {4, 4}};
  static constexpr double loads_per_cycle = 2.0;
  static constexpr int64_t kc = 256, lc = 1024;
};

}  // namespace pocketcnn::kernels
