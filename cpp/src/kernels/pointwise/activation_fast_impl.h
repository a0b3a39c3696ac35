// The activations of activation_ops.h over a vector type V, compiled once per ISA: forward and
// backward per lane from the vector math (vmath_impl.h, vmath_extra_impl.h), with the same
// special values as the reference (activation_ref.h): NaN in -> NaN out wherever the reference
// gives NaN, the limits at +-inf. leaky_relu and hard_sigmoid (forward and backward) are the
// reference's float arithmetic bit for bit; the others are within the ulp bounds that
// tests/cpp/test_activation_fast.cpp states and asserts.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/pointwise/activation_ops.h"
#include "kernels/pointwise/vmath_extra_impl.h"
#include "kernels/runtime/parallel.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

template <class V>
using VReg = typename V::R;

// Constants of the tanh-form gelu: 2 sqrt(2/pi) and 2 sqrt(2/pi) 0.044715; (1 + tanh(u)) / 2 is
// sigmoid(2u), which does not cancel for negative u.
constexpr float kGeluTanhLinear = 1.5957691216f;
constexpr float kGeluTanhCubic = 0.0713548162f;

// r, but NaN where x is NaN (for results computed from a clamped x).
template <class V>
inline VReg<V> nan_from(const VReg<V>& x, const VReg<V>& r) {
  return V::select(V::isnan(x), r, x);
}

// x * f with the limit -0 at x = -inf, where f vanishes (gelu, silu: -inf * 0 would be NaN).
template <class V>
inline VReg<V> times_vanishing(const VReg<V>& x, const VReg<V>& f) {
  return V::select(V::eq(x, V::set1(-__builtin_inff())), V::mul(x, f), V::set1(-0.0f));
}

// x clamped to [-limit, limit] (NaN becomes limit; the callers restore it with nan_from).
template <class V>
inline VReg<V> clamped(const VReg<V>& x, float limit) {
  return V::max(V::min(x, V::set1(limit)), V::set1(-limit));
}

// x sigmoid(x). Below x = -80, sigmoid(x) = e^x (1 + e^x rounds to 1) is denormal while
// x e^x may still be normal, so it is computed as (x e^(x/2)) e^(x/2) there: both factors are
// normal and the result is rounded once.
template <class V>
inline VReg<V> silu_lane(const VReg<V>& x) {
  const VReg<V> y = V::mul(x, vsigmoid<V>(x));
  const typename V::M tail = V::gt(V::set1(-80.0f), x);
  if (!V::any(tail)) return y;
  const VReg<V> h = vexp<V>(V::mul(x, V::set1(0.5f)));
  return V::select(tail, y, V::mul(V::mul(x, h), h));
}

template <class V>
inline VReg<V> gelu_tanh_sigmoid(const VReg<V>& x) {
  const VReg<V> u2 =
      V::mul(x, V::fmadd(V::mul(x, x), V::set1(kGeluTanhCubic), V::set1(kGeluTanhLinear)));
  return vsigmoid<V>(u2);
}

// Always inlined: its callers pass a constant op (the conv epilogue, activation_forward_of), so
// the switch folds to the one case.
template <class V>
[[gnu::always_inline]] inline VReg<V> activation_lane(const ActivationParams& p, const VReg<V>& x) {
  const VReg<V> zero = V::zero(), alpha = V::set1(p.alpha);
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return V::select(V::gt(x, zero), V::mul(alpha, x), x);
    case ActivationOp::Elu:
      return V::select(V::gt(x, zero), V::mul(alpha, vexpm1<V>(x)), x);
    case ActivationOp::Gelu:
      return V::select(V::eq(x, V::set1(-__builtin_inff())), vx_normal_cdf<V>(x), V::set1(-0.0f));
    case ActivationOp::GeluTanh:
      return times_vanishing<V>(x, gelu_tanh_sigmoid<V>(x));
    case ActivationOp::Silu:  // -inf: (-inf * 0) * 0 would be NaN
      return V::select(V::eq(x, V::set1(-__builtin_inff())), silu_lane<V>(x), V::set1(-0.0f));
    case ActivationOp::HardSigmoid: {
      const VReg<V> six = V::set1(6.0f);
      const VReg<V> v = V::min(six, V::max(zero, V::add(x, V::set1(3.0f))));  // keeps NaN
      return V::div(v, six);
    }
    case ActivationOp::Softplus:
      return V::add(V::max(zero, x), vlog1p_unit<V>(vexp<V>(V::sub(zero, V::abs(x)))));
  }
  return x;
}

// dy * op'(x), the reference's derivatives (see activation_ref.cpp).
template <class V>
inline VReg<V> activation_grad_lane(const ActivationParams& p, const VReg<V>& x, const VReg<V>& g) {
  const VReg<V> zero = V::zero(), one = V::set1(1.0f), alpha = V::set1(p.alpha);
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return V::select(V::gt(x, zero), V::mul(g, alpha), g);
    case ActivationOp::Elu:
      return V::select(V::gt(x, zero), V::mul(g, V::mul(alpha, vexp<V>(x))), g);
    case ActivationOp::Gelu: {  // Phi(x) + x phi(x); x phi(x) -> 0 at +-inf
      const VReg<V> xc = clamped<V>(x, 20.0f);
      const VReg<V> d = V::fmadd(xc, vnormal_pdf<V>(xc), vnormal_cdf<V>(xc));
      return nan_from<V>(x, V::mul(g, d));
    }
    case ActivationOp::GeluTanh: {  // s + x s (1 - s) du/dx, s = sigmoid(2u)
      const VReg<V> xc = clamped<V>(x, 20.0f);
      const VReg<V> s = gelu_tanh_sigmoid<V>(xc);
      const VReg<V> du =
          V::fmadd(V::mul(xc, xc), V::set1(3.0f * kGeluTanhCubic), V::set1(kGeluTanhLinear));
      const VReg<V> d = V::fmadd(V::mul(V::mul(xc, s), V::sub(one, s)), du, s);
      return nan_from<V>(x, V::mul(g, d));
    }
    case ActivationOp::Silu: {  // s (1 + x (1 - s)); s saturates (to 0 or 1) well inside 120
      const VReg<V> xc = clamped<V>(x, 120.0f);
      const VReg<V> s = vsigmoid<V>(xc);
      const VReg<V> d = V::mul(s, V::fmadd(xc, V::sub(one, s), one));
      return nan_from<V>(x, V::mul(g, d));
    }
    case ActivationOp::HardSigmoid: {
      const typename V::M inside = V::mand(V::gt(x, V::set1(-3.0f)), V::gt(V::set1(3.0f), x));
      return V::maskz(inside, V::mul(g, V::set1(1.0f / 6.0f)));
    }
    case ActivationOp::Softplus:
      return V::mul(g, vsigmoid<V>(x));
  }
  return g;
}

// The activation kernels work in chunks of 4096 floats; threads only above ~2e6 flops (about 60
// flops a float for the smooth ones: up to two exps, a division, selects) or, for the piecewise
// linear ones (memory-bound), ~256 KiB moved per thread.
constexpr int64_t kActivationChunk = 4096;

inline int activation_threads(ActivationOp op, int64_t n, int64_t chunks, int threads) {
  const bool cheap = op == ActivationOp::LeakyRelu || op == ActivationOp::HardSigmoid;
  return cheap ? threads_for_bytes(chunks, 12.0 * static_cast<double>(n), threads)
               : threads_for(chunks, 60.0 * static_cast<double>(n), threads);
}

// y = op(x) over n floats for one op known at compile time: each op's loop is its own code, the
// lane function inlined. (One loop over the runtime switch called it out of line per vector, and
// the inliner's choices in it moved with any edit of one op: silu lost 14% when gelu's tail
// changed.)
// The loop is written out (not map_range's lambda, which GCC left out of line: a call per vector).
template <class V, ActivationOp Op>
void activation_forward_of(float alpha, int64_t n, const float* x, float* y) {
  const ActivationParams p{Op, alpha};
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, activation_lane<V>(p, V::load(x + i)));
  if (i < n) {
    const int t = static_cast<int>(n - i);
    V::store_partial(y + i, activation_lane<V>(p, V::load_partial(x + i, t)), t);
  }
}

template <class V>
void activation_forward_range(const ActivationParams& p, int64_t n, const float* x, float* y) {
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return activation_forward_of<V, ActivationOp::LeakyRelu>(p.alpha, n, x, y);
    case ActivationOp::Elu:
      return activation_forward_of<V, ActivationOp::Elu>(p.alpha, n, x, y);
    case ActivationOp::Gelu:
      return activation_forward_of<V, ActivationOp::Gelu>(p.alpha, n, x, y);
    case ActivationOp::GeluTanh:
      return activation_forward_of<V, ActivationOp::GeluTanh>(p.alpha, n, x, y);
    case ActivationOp::Silu:
      return activation_forward_of<V, ActivationOp::Silu>(p.alpha, n, x, y);
    case ActivationOp::HardSigmoid:
      return activation_forward_of<V, ActivationOp::HardSigmoid>(p.alpha, n, x, y);
    case ActivationOp::Softplus:
      return activation_forward_of<V, ActivationOp::Softplus>(p.alpha, n, x, y);
  }
}

template <class V>
void activation_forward(const ActivationParams& p, int64_t n, const float* x, float* y,
                        int threads) {
  const int64_t chunks = (n + kActivationChunk - 1) / kActivationChunk;
  const int nt = activation_threads(p.op, n, chunks, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kActivationChunk, e = std::min(n, c1 * kActivationChunk);
    activation_forward_range<V>(p, e - b, x + b, y + b);
  });
}

template <class V>
void activation_backward(const ActivationParams& p, int64_t n, const float* x, const float* dy,
                         float* dx, int threads) {
  const int64_t chunks = (n + kActivationChunk - 1) / kActivationChunk;
  const int nt = activation_threads(p.op, n, chunks, threads);
  parallel_for(chunks, nt, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kActivationChunk, e = std::min(n, c1 * kActivationChunk);
    const float *xb = x + b, *gb = dy + b;
    float* out = dx + b;
    const int64_t m = e - b;
    int64_t i = 0;
    for (; i + V::W <= m; i += V::W) {
      V::store(out + i, activation_grad_lane<V>(p, V::load(xb + i), V::load(gb + i)));
    }
    if (i < m) {
      const int t = static_cast<int>(m - i);
      V::store_partial(
          out + i,
          activation_grad_lane<V>(p, V::load_partial(xb + i, t), V::load_partial(gb + i, t)), t);
    }
  });
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
