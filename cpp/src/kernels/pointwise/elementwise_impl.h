// Elementwise kernels over a vector type V, compiled once per ISA (kernels_<isa>.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/pointwise/elementwise_ops.h"
#include "kernels/pointwise/unary_impl.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// Chunks of 16 KiB floats per task; threads only above ~256 KiB per thread (parallel.h), or
// ~2e6 flops for the vector math (~40 flops a float: exp's polynomial, a division, selects).
constexpr int64_t kChunk = 4096;

inline bool is_transcendental(UnaryOp op) {
  return op != UnaryOp::Relu && op != UnaryOp::Neg;
}

template <class V>
void unary_forward(UnaryOp op, int64_t n, const float* x, float* y, int threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = is_transcendental(op) ? threads_for(chunks, 40.0 * n, threads)
                                       : threads_for_bytes(chunks, 8.0 * n, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    unary_forward_range<V>(op, e - b, x + b, y + b);
  });
}

template <class V>
void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float* dx, int threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = threads_for_bytes(chunks, 12.0 * n, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    unary_backward_range<V>(op, e - b, x ? x + b : nullptr, y ? y + b : nullptr, dy + b, dx + b);
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
