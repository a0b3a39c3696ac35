// Vectorised float32 exp, log, tanh and sigmoid over a vector type V (simd_generic.h,
// simd_avx2.h, simd_avx512.h), compiled once per ISA. Cephes-style: range reduction, a minimax
// polynomial, and the special values of the C library restored by selects, so every lane of the
// whole float range gives what std::exp / std::log / std::tanh give up to a few ulp:
//   0 and denormals, +-inf, NaN (propagated), saturation without overflow or NaN for large |x|.
// Measured maximum errors against the float64 functions over every float (tests/cpp/
// test_vmath.cpp asserts them on a dense sweep): exp 1.01 ulp, log 0.83 ulp,
// tanh 1.33 ulp, sigmoid 2.5 ulp (1 ulp is the float spacing at the exact result; 2^-149 in the
// denormal range).
#pragma once

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// e^r ~ 1 + r + r^2 P(r) for a reduced argument |r| <= ln 2 / 2 (vexp's polynomial).
template <class V>
inline typename V::R vexp_reduced(const typename V::R& r) {
  using R = typename V::R;
  R p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  return V::add(V::fmadd(p, V::mul(r, r), r), V::set1(1.0f));
}

// e^x. Clamped to [-104, 89] first (exp(-104) < 2^-150 rounds to 0; exp(89) overflows to inf
// through ldexp), so n = round(x / ln 2) stays in ldexp's range; r = x - n ln 2 in two parts
// (the first exact), e^r ~ 1 + r + r^2 P(r) on |r| <= ln 2 / 2.
template <class V>
inline typename V::R vexp(const typename V::R& x) {
  using R = typename V::R;
  const R xc = V::min(V::max(x, V::set1(-104.0f)), V::set1(89.0f));
  const R n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  R r = V::fmadd(n, V::set1(-0.693359375f), xc);
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  const R y = V::ldexp(vexp_reduced<V>(r), n);
  return V::select(V::isnan(x), y, x);  // the clamp lost NaN
}

// ln x. Denormals are scaled by 2^23 into the normal range first; x = m 2^e with m in
// [sqrt(1/2), sqrt(2)), f = m - 1, ln(1 + f) ~ f - f^2 / 2 + f^3 P(f), e ln 2 added in two parts.
template <class V>
inline typename V::R vlog(const typename V::R& x) {
  using R = typename V::R;
  const R zero = V::zero(), one = V::set1(1.0f);
  const typename V::M tiny = V::gt(V::set1(1.17549435e-38f), x);  // denormal, 0 or negative
  const R xs = V::select(tiny, x, V::mul(x, V::set1(8388608.0f)));
  R m;
  R e = V::exponent(xs, m);
  e = V::select(tiny, e, V::sub(e, V::set1(23.0f)));
  const typename V::M big = V::gt(m, V::set1(1.41421356237f));
  m = V::select(big, m, V::mul(m, V::set1(0.5f)));
  e = V::select(big, e, V::add(e, one));
  const R f = V::sub(m, one), z = V::mul(f, f);
  R p = V::set1(7.0376836292e-2f);
  p = V::fmadd(p, f, V::set1(-1.1514610310e-1f));
  p = V::fmadd(p, f, V::set1(1.1676998740e-1f));
  p = V::fmadd(p, f, V::set1(-1.2420140846e-1f));
  p = V::fmadd(p, f, V::set1(1.4249322787e-1f));
  p = V::fmadd(p, f, V::set1(-1.6668057665e-1f));
  p = V::fmadd(p, f, V::set1(2.0000714765e-1f));
  p = V::fmadd(p, f, V::set1(-2.4999993993e-1f));
  p = V::fmadd(p, f, V::set1(3.3333331174e-1f));
  R y = V::mul(V::mul(p, f), z);
  y = V::fmadd(e, V::set1(-2.12194440e-4f), y);
  y = V::fmadd(z, V::set1(-0.5f), y);
  y = V::fmadd(e, V::set1(0.693359375f), V::add(f, y));
  const R inf = V::set1(__builtin_inff());
  y = V::select(V::eq(x, inf), y, inf);
  y = V::select(V::gt(zero, x), y, V::set1(__builtin_nanf("")));
  y = V::select(V::eq(x, zero), y, V::set1(-__builtin_inff()));
  return V::select(V::isnan(x), y, x);
}

// tanh x: x + x^3 P(x^2) for |x| < 0.625, else sign(x) (1 - 2 / (e^(2|x|) + 1)), which is
// exactly +-1 once e^(2|x|) is large (and for inf); NaN goes through exp.
template <class V>
inline typename V::R vtanh(const typename V::R& x) {
  using R = typename V::R;
  const R one = V::set1(1.0f), a = V::abs(x);
  const R z = V::mul(x, x);
  R p = V::set1(-5.70498872745e-3f);
  p = V::fmadd(p, z, V::set1(2.06390887954e-2f));
  p = V::fmadd(p, z, V::set1(-5.37397155531e-2f));
  p = V::fmadd(p, z, V::set1(1.33314422036e-1f));
  p = V::fmadd(p, z, V::set1(-3.33332819422e-1f));
  const R small = V::fmadd(V::mul(p, z), x, x);
  const R e = vexp<V>(V::add(a, a));
  const R large = V::sub(one, V::div(V::set1(2.0f), V::add(e, one)));
  // tanh is odd: the sign of x, also for -0 (whose polynomial may round to +0).
  return V::copysign(V::select(V::gt(V::set1(0.625f), a), large, small), x);
}

// sigmoid x = 1 / (1 + e^-x) for x > -18, and e^x below (where e^x / (1 + e^x) is e^x to a
// relative e^-18, under a quarter ulp; e^-x would overflow from -88.7 and lose the denormal
// results). Monotone non-decreasing over every float (the fused conv + max pool relies on it,
// conv2d.h's pool_commutes): vexp is, so are 1 + e and 1 / that (correctly rounded), and the
// switch at -18 does not step down (exhaustive sweep under scalar and AVX2, issue #16). The
// former e / (1 + e) for x < 0 was not: e and 1 + e round separately, and 198,180 floats in
// [-2, 0) gave a result 1 ulp below their predecessor's. NaN propagates (through exp).
template <class V>
inline typename V::R vsigmoid(const typename V::R& x) {
  using R = typename V::R;
  const R one = V::set1(1.0f);
  const typename V::M mid = V::gt(x, V::set1(-18.0f));  // false for NaN
  const R e = vexp<V>(V::select(mid, x, V::sub(V::zero(), x)));
  return V::select(mid, e, V::div(one, V::add(one, e)));
}

// y[i] = f(x[i]) for i < n, whole vectors then one partial one.
template <class V, class F>
inline void map_range(int64_t n, const float* x, float* y, F f) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, f(V::load(x + i)));
  if (i < n) {
    const int t = static_cast<int>(n - i);
    V::store_partial(y + i, f(V::load_partial(x + i, t)), t);
  }
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
