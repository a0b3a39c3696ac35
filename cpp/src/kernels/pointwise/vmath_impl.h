// Vectorised float32 exp, log, tanh and sigmoid over a vector type V (simd_generic.h,
// simd_avx2.h, simd_avx512.h), compiled once per ISA. Cephes-style: range reduction, a minimax
// polynomial, and the special values of the C library restored by selects, so every lane of the
// whole float range gives what std::exp / std::log / std::tanh give up to a few ulp:
//   0 and denormals, +-inf, NaN (propagated), saturation without overflow or NaN for large |x|.
// Measured maximum errors against the float64 functions (tests/cpp/test_vmath.cpp's sweep of
// every 1021st float plus a dense grid on [-20, 20], AVX2 and scalar, 2026-12-03): exp 0.99 ulp,
// log 0.76 ulp (0.83 over every float), tanh 1.24 ulp, sigmoid 2.47 ulp (1 ulp is the float
// spacing at the exact result; 2^-149 in the denormal range). tanh, sigmoid and exp are monotone
// non-decreasing over every float (tests/cpp/sweeps/activation_monotone.cpp, AVX2 and scalar).
// Cost (L1-resident AVX2, rdtsc cycles per 8 floats): exp ~6.5, tanh ~13.5, sigmoid ~11.
#pragma once

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// e^r ~ 1 + r + r^2 P(r) for a reduced argument |r| <= ln 2 / 2 (vexp's polynomial).
template <class V>
[[gnu::always_inline]] inline typename V::R vexp_reduced(const typename V::R& r) {
  using R = typename V::R;
  R p = V::set1(1.9875691500e-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
  return V::add(V::fmadd(p, V::mul(r, r), r), V::set1(1.0f));
}

// Always inlined (vexp_any, the rare path, never): GCC otherwise kept vexp / vtanh / vsigmoid out
// of line at most of their ~90 call sites in the AVX2 kernels, so every vector paid a call, its
// argument and result through the stack and a reload of every constant.
// The reduction shared by every exp: n = round(u / ln 2) by adding kRound (the float then holds
// n + 127 in its low bits, which V::pow2_bits turns into 2^n), r = u - n ln 2 in two parts (the
// first exact), p = e^r on |r| <= ln 2 / 2; e^u = p 2^n. One FMA rounds the exact product, where
// round(u * log2 e) cost a multiply, a round and (in ldexp) a convert.
constexpr float kRound = 12583039.0f;  // 1.5 * 2^23 + 127

template <class V>
[[gnu::always_inline]] inline typename V::R vexp_reduce(const typename V::R& u, typename V::R& t) {
  t = V::fmadd(u, V::set1(1.44269504088896341f), V::set1(kRound));
  const typename V::R n = V::sub(t, V::set1(kRound));
  typename V::R r = V::fmadd(n, V::set1(-0.693359375f), u);
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  return vexp_reduced<V>(r);
}

// e^u for u in [-87, 88.3] (or NaN): 2^n is a normal float, so p 2^n is one multiply (rounded
// once also where the result is denormal).
template <class V>
[[gnu::always_inline]] inline typename V::R vexp_normal(const typename V::R& u) {
  typename V::R t;
  const typename V::R p = vexp_reduce<V>(u, t);
  return V::mul(p, V::pow2_bits(t));
}

// e^x for any x: clamped to [-104, 89] first (exp(-104) < 2^-150 rounds to 0; exp(89) overflows
// to inf through ldexp), so n stays in ldexp's range, whose two factors round a denormal result
// once. Bit for bit vexp_normal's result wherever that applies.
template <class V>
[[gnu::noinline]] typename V::R vexp_any(const typename V::R& x) {
  using R = typename V::R;
  const R xc = V::min(V::max(x, V::set1(-104.0f)), V::set1(89.0f));
  R t;
  const R p = vexp_reduce<V>(xc, t);
  const R y = V::ldexp(p, V::sub(t, V::set1(kRound)));
  return V::select(V::isnan(x), y, x);  // the clamp lost NaN
}

// e^x: vexp_normal unless a lane needs vexp_any (|x| > 87: in a network almost never, so the
// branch predicts well; the result does not depend on which path a lane's vector took).
template <class V>
[[gnu::always_inline]] inline typename V::R vexp(const typename V::R& x) {
  if (V::any(V::gt(V::abs(x), V::set1(87.0f)))) return vexp_any<V>(x);
  return vexp_normal<V>(x);
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

// tanh x: for a = |x| < 0.625, a + a^3 P(a^2); else 1 - 2 / (e^(2a) + 1), with a clamped to
// 9.5 (tanh is 1 in float from 9.01; e^19 needs no overflow handling, so vexp_normal); then the
// sign of x, also for -0 (whose polynomial may round to +0). NaN survives the clamp (min keeps
// its second operand's NaN) and goes through exp.
template <class V>
[[gnu::always_inline]] inline typename V::R vtanh(const typename V::R& x) {
  using R = typename V::R;
  const R one = V::set1(1.0f), a = V::abs(x);
  const R z = V::mul(a, a);
  R p = V::set1(-5.70498872745e-3f);
  p = V::fmadd(p, z, V::set1(2.06390887954e-2f));
  p = V::fmadd(p, z, V::set1(-5.37397155531e-2f));
  p = V::fmadd(p, z, V::set1(1.33314422036e-1f));
  p = V::fmadd(p, z, V::set1(-3.33332819422e-1f));
  const R small = V::fmadd(V::mul(p, z), a, a);
  const R ac = V::min(V::set1(9.5f), a);
  const R e = vexp_normal<V>(V::add(ac, ac));
  const R large = V::sub(one, V::div(V::set1(2.0f), V::add(e, one)));
  return V::copysign(V::select(V::gt(V::set1(0.625f), a), large, small), x);
}

// sigmoid x = 1 / (1 + e^-x) for x > -18, and e^x below (where e^x / (1 + e^x) is e^x to a
// relative e^-18, under a quarter ulp; e^-x would overflow from -88.7 and lose the denormal
// results). x is clamped to 20 first (sigmoid is 1 in float from 17.4), so e^-x only needs
// vexp_any for x < -87, the denormal results, behind a branch.
// Monotone non-decreasing over every float (the fused conv + max pool relies on it,
// conv2d.h's pool_commutes): vexp is, so are 1 + e and 1 / that (correctly rounded), and the
// switch at -18 does not step down (exhaustive sweep under scalar and AVX2, issue #16). The
// former e / (1 + e) for x < 0 was not: e and 1 + e round separately, and 198,180 floats in
// [-2, 0) gave a result 1 ulp below their predecessor's. NaN propagates (through exp).
template <class V>
[[gnu::always_inline]] inline typename V::R vsigmoid(const typename V::R& x) {
  using R = typename V::R;
  const R one = V::set1(1.0f);
  const R xc = V::min(V::set1(20.0f), x);               // keeps NaN
  const typename V::M mid = V::gt(x, V::set1(-18.0f));  // false for NaN
  const R u = V::select(mid, xc, V::sub(V::zero(), xc));
  const R e = V::any(V::gt(V::set1(-87.0f), u)) ? vexp_any<V>(u) : vexp_normal<V>(u);
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
