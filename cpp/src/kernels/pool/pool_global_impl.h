// Pooling with one window over the whole plane and no padding: how the inference plan runs
// GlobalAveragePooling2D and GlobalMaxPooling2D. The general kernels (pool_general_impl.h) set up
// scratch rows and two passes per plane, ~1 us for a 7x7 plane: the small ResNet's global pooling
// of (256, 64, 7, 7) took 8% of its inference. Here each plane is one reduction.
#pragma once

#include <cstdint>

#include "kernels/conv/conv_common_impl.h"
#include "kernels/pool/pool2d_ref.h"
#include "kernels/pool/pool_geometry.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

inline bool is_global_window(const Pool2dGeometry& g) {
  return g.P == 1 && g.Q == 1 && g.kernel_h == g.H && g.kernel_w == g.W && g.pad_h == 0 &&
         g.pad_w == 0;
}

// y[nc] = mean of plane nc (both count_include_pad modes agree: no padding). Vector sums in
// another order than the reference's row-major one: equal up to rounding.
template <class V>
void global_avg_pool(const Pool2dGeometry& g, const float* x, float* y, int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W;
  const float count = static_cast<float>(HW);
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + 1), threads);
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) y[nc] = sum_floats<V>(x + nc * HW, HW) / count;
  });
}

// y[nc] = max of plane nc (and its argmax): the reference's loop on each thread's planes, exact
// (first maximum, NaN wins) and, with a single window per plane, without per-window overhead.
inline void global_max_pool(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax,
                            int threads) {
  const int64_t NC = g.N * g.C, HW = g.H * g.W;
  const int nt = threads_for_bytes(NC, 4.0 * NC * (HW + 1), threads);
  parallel_for(NC, nt, [&](int64_t b, int64_t e) {
    Pool2dGeometry s = g;
    s.N = e - b, s.C = 1;
    max_pool2d_forward_ref(s, x + b * HW, y + b, argmax ? argmax + b : nullptr);
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
