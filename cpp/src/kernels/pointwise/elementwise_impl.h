// Elementwise kernels over a vector type V, compiled once per ISA (kernels_<isa>.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/pointwise/elementwise_loops.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// y = relu(x) = max(0, x) with NaN kept and -0 kept (exactly unary_forward_loop's `x < 0 ? 0 : x`):
// V::max(0, x) returns its second operand on NaN and on equal zeros.
template <class V>
void relu_forward_range(int64_t n, const float* x, float* y) {
  const typename V::R zero = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, V::max(zero, V::load(x + i)));
  if (i < n) {
    const int t = static_cast<int>(n - i);
    V::store_partial(y + i, V::max(zero, V::load_partial(x + i, t)), t);
  }
}

// dx = x > 0 ? dy : 0 (NaN x gives 0, as the reference).
template <class V>
void relu_backward_range(int64_t n, const float* x, const float* dy, float* dx) {
  const typename V::R zero = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    V::store(dx + i, V::maskz(V::gt(V::load(x + i), zero), V::load(dy + i)));
  }
  if (i < n) {
    const int t = static_cast<int>(n - i);
    V::store_partial(
        dx + i, V::maskz(V::gt(V::load_partial(x + i, t), zero), V::load_partial(dy + i, t)), t);
  }
}

// Chunks of 16 KiB floats per task; threads only above ~256 KiB per thread (parallel.h).
constexpr int64_t kChunk = 4096;

template <class V>
void unary_forward(UnaryOp op, int64_t n, const float* x, float* y, int threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = threads_for_bytes(chunks, 8.0 * n, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    if (op == UnaryOp::Relu) {
      relu_forward_range<V>(e - b, x + b, y + b);
    } else {
      unary_forward_loop(op, e - b, x + b, y + b);
    }
  });
}

template <class V>
void unary_backward(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                    float* dx, int threads) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = threads_for_bytes(chunks, 12.0 * n, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(n, c1 * kChunk);
    if (op == UnaryOp::Relu) {
      relu_backward_range<V>(e - b, x + b, dy + b, dx + b);
    } else {
      unary_backward_loop(op, e - b, x ? x + b : nullptr, y ? y + b : nullptr, dy + b, dx + b);
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
