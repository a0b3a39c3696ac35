// More vector math for the activations (activation_fast_impl.h), built on vmath_impl.h's exp and
// log: expm1 (elu), log1p on [0, 1] (softplus), e^(-x^2/2) without the rounding of x^2 (gelu's
// normal density) and the normal CDF Phi through erfc (gelu). The error bounds of the activations
// built from them are stated and asserted in tests/cpp/test_activation_fast.cpp.
#pragma once

#include "kernels/pointwise/vmath_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see gemm_impl.h).
namespace {

// e^x - 1: Taylor through x^8 for |x| < ln 2 / 2 (the next term is below 2^-30 relative there,
// and 1 + x + ... would cancel), e^x - 1 outside (no cancellation beyond a factor of ~3.4).
template <class V>
inline typename V::R vexpm1(const typename V::R& x) {
  using R = typename V::R;
  R p = V::set1(1.0f / 40320.0f);
  p = V::fmadd(p, x, V::set1(1.0f / 5040.0f));
  p = V::fmadd(p, x, V::set1(1.0f / 720.0f));
  p = V::fmadd(p, x, V::set1(1.0f / 120.0f));
  p = V::fmadd(p, x, V::set1(1.0f / 24.0f));
  p = V::fmadd(p, x, V::set1(1.0f / 6.0f));
  p = V::fmadd(p, x, V::set1(0.5f));
  const R small = V::copysign(V::fmadd(V::mul(p, x), x, x), x);  // -0 stays -0
  const R large = V::sub(vexp<V>(x), V::set1(1.0f));
  return V::select(V::gt(V::set1(0.34657359f), V::abs(x)), large, small);  // NaN: large
}

// ln(1 + u) for u in [0, 1] (and NaN): ln(w) u / (w - 1) with w = 1 + u rounded, which cancels
// the rounding of w (w - 1 is exact); u itself where w rounds to 1.
template <class V>
inline typename V::R vlog1p_unit(const typename V::R& u) {
  using R = typename V::R;
  const R one = V::set1(1.0f);
  const R w = V::add(one, u);
  const R d = V::sub(w, one);
  const R scaled = V::div(V::mul(vlog<V>(w), u), V::select(V::eq(d, V::zero()), d, one));
  return V::select(V::eq(d, V::zero()), scaled, u);
}

// m e^(-a^2 / 2) e^c for a in [0, 20] (c small, m any scale): a = h + l with h a multiple of
// 1/64 (h^2 / 2 exact in float), so a^2 / 2 = h^2 / 2 + l (a + h) / 2 and only the small second
// part rounds. m multiplies the large factor first: m e^(-a^2/2) stays normal where e^(-a^2/2)
// e^c alone would be denormal (gelu's x Phi(x) near x = -13 is normal, Phi(x) is not).
template <class V>
inline typename V::R vexp_neg_half_square(const typename V::R& a, const typename V::R& c,
                                          const typename V::R& m) {
  using R = typename V::R;
  const R h = V::mul(V::round(V::mul(a, V::set1(64.0f))), V::set1(1.0f / 64.0f));
  const R l = V::sub(a, h);
  const R big = V::mul(V::mul(h, h), V::set1(-0.5f));
  const R small = V::fmadd(V::mul(l, V::add(a, h)), V::set1(-0.5f), c);
  return V::mul(V::mul(m, vexp<V>(big)), vexp<V>(small));
}

// m erfc(a / sqrt 2) / 2 = m Phi(-a) for a >= 0 (a already clamped to [0, 20]): Numerical
// Recipes' erfcc, t e^(-z^2 + P(t)) with t = 1 / (1 + z / 2), z = a / sqrt 2, fractional error
// below 1.2e-7 over all z >= 0 (before float rounding).
template <class V>
inline typename V::R vnormal_tail(const typename V::R& a, const typename V::R& m) {
  using R = typename V::R;
  const R z = V::mul(a, V::set1(0.70710678f));
  const R t = V::div(V::set1(1.0f), V::fmadd(z, V::set1(0.5f), V::set1(1.0f)));
  R p = V::set1(0.17087277f);
  p = V::fmadd(p, t, V::set1(-0.82215223f));
  p = V::fmadd(p, t, V::set1(1.48851587f));
  p = V::fmadd(p, t, V::set1(-1.13520398f));
  p = V::fmadd(p, t, V::set1(0.27886807f));
  p = V::fmadd(p, t, V::set1(-0.18628806f));
  p = V::fmadd(p, t, V::set1(0.09678418f));
  p = V::fmadd(p, t, V::set1(0.37409196f));
  p = V::fmadd(p, t, V::set1(1.00002368f));
  p = V::fmadd(p, t, V::set1(-1.26551223f));
  return V::mul(vexp_neg_half_square<V>(a, p, m), V::mul(t, V::set1(0.5f)));
}

// |x| clamped to [0, 20], where Phi and the density have reached their float limits (Phi(-20)
// is ~3e-89); NaN becomes 20 (the callers restore it).
template <class V>
inline typename V::R abs_clamped20(const typename V::R& x) {
  return V::min(V::abs(x), V::set1(20.0f));
}

// Phi(x), the standard normal CDF: the tail for x < 0, 1 - tail above.
template <class V>
inline typename V::R vnormal_cdf(const typename V::R& x) {
  const typename V::R tail = vnormal_tail<V>(abs_clamped20<V>(x), V::set1(1.0f));
  return V::select(V::gt(V::zero(), x), V::sub(V::set1(1.0f), tail), tail);
}

// x Phi(x) (gelu) without a denormal Phi in between: x times the tail for x < 0.
template <class V>
inline typename V::R vx_normal_cdf(const typename V::R& x) {
  using R = typename V::R;
  const typename V::M negative = V::gt(V::zero(), x);
  const R one = V::set1(1.0f);
  const R r = vnormal_tail<V>(abs_clamped20<V>(x), V::select(negative, one, x));
  return V::select(negative, V::mul(x, V::sub(one, r)), r);
}

// The density e^(-x^2/2) / sqrt(2 pi), for |x| <= 20 (clamped as above).
template <class V>
inline typename V::R vnormal_pdf(const typename V::R& x) {
  return vexp_neg_half_square<V>(abs_clamped20<V>(x), V::zero(), V::set1(0.39894228f));
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
