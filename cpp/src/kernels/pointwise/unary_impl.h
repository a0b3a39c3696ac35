// The unary ops of elementwise_ref.h over one contiguous range, vectorised for every op:
// forward by the vector math (vmath_impl.h) within its stated error of the reference; backward
// the reference's arithmetic, the same operations in the same order (bit for bit, except that the
// compiler may fuse a multiply and an add into one FMA in the AVX2 / AVX-512 translation units:
// sigmoid's and tanh's 1 - y y then differ from the reference by an ulp).
#pragma once

#include <cstdint>

#include "kernels/pointwise/elementwise_ops.h"
#include "kernels/pointwise/vmath_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// y = op(x) on [0, n). Relu is V::max(0, x), which keeps NaN and -0 (the reference's
// `x < 0 ? 0 : x`); Neg multiplies by -1 (0 - x would turn +0 into +0 instead of -0).
template <class V>
void unary_forward_range(UnaryOp op, int64_t n, const float* x, float* y) {
  using R = typename V::R;
  switch (op) {
    case UnaryOp::Relu:
      return map_range<V>(n, x, y, [](const R& v) { return V::max(V::zero(), v); });
    case UnaryOp::Sigmoid:
      return map_range<V>(n, x, y, [](const R& v) { return vsigmoid<V>(v); });
    case UnaryOp::Tanh:
      return map_range<V>(n, x, y, [](const R& v) { return vtanh<V>(v); });
    case UnaryOp::Exp:
      return map_range<V>(n, x, y, [](const R& v) { return vexp<V>(v); });
    case UnaryOp::Log:
      return map_range<V>(n, x, y, [](const R& v) { return vlog<V>(v); });
    case UnaryOp::Neg:
      return map_range<V>(n, x, y, [](const R& v) { return V::mul(V::set1(-1.0f), v); });
  }
}

// out[i] = f(a[i], b[i]) for i < n.
template <class V, class F>
inline void zip_range(int64_t n, const float* a, const float* b, float* out, F f) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(out + i, f(V::load(a + i), V::load(b + i)));
  if (i < n) {
    const int t = static_cast<int>(n - i);
    V::store_partial(out + i, f(V::load_partial(a + i, t), V::load_partial(b + i, t)), t);
  }
}

// dx = dy * op'(.) on [0, n), unary_backward_loop's expressions: relu and log read x,
// sigmoid, tanh and exp read y = op(x), neg neither.
template <class V>
void unary_backward_range(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                          float* dx) {
  using R = typename V::R;
  const R one = V::set1(1.0f);
  switch (op) {
    case UnaryOp::Relu:
      return zip_range<V>(n, x, dy, dx, [](const R& v, const R& g) {
        return V::maskz(V::gt(v, V::zero()), g);  // 0 at x == 0 and for NaN x, as the reference
      });
    case UnaryOp::Sigmoid:
      return zip_range<V>(n, y, dy, dx, [&](const R& v, const R& g) {
        return V::mul(V::mul(g, v), V::sub(one, v));
      });
    case UnaryOp::Tanh:
      return zip_range<V>(n, y, dy, dx, [&](const R& v, const R& g) {
        return V::mul(g, V::sub(one, V::mul(v, v)));
      });
    case UnaryOp::Exp:
      return zip_range<V>(n, y, dy, dx, [](const R& v, const R& g) { return V::mul(g, v); });
    case UnaryOp::Log:
      return zip_range<V>(n, x, dy, dx, [](const R& v, const R& g) { return V::div(g, v); });
    case UnaryOp::Neg:
      return map_range<V>(n, dy, dx, [](const R& g) { return V::mul(V::set1(-1.0f), g); });
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
