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

// m e^(hi + lo) for hi a multiple of 2^-13 in [-113, 0] and |lo| <= 2: one exp of the two-part
// argument (vexp's reduction, lo joining r after the first, exact, step: hi - n ln2_hi is a
// multiple of 2^-13 below 4). m multiplies the polynomial before the scaling by 2^n (n >= -165,
// inside every ISA's ldexp), so a result in the denormal range is rounded once, at the end.
template <class V>
inline typename V::R vexp_two_part_scaled(const typename V::R& hi, const typename V::R& lo,
                                          const typename V::R& m) {
  using R = typename V::R;
  const R n = V::round(V::mul(V::add(hi, lo), V::set1(1.44269504088896341f)));
  R r = V::add(V::fmadd(n, V::set1(-0.693359375f), hi), lo);
  r = V::fmadd(n, V::set1(2.12194440e-4f), r);
  return V::ldexp(V::mul(vexp_reduced<V>(r), m), n);
}

// m erfc(a / sqrt 2) / 2 = m Phi(-a) for a >= 0 (a already clamped to [0, 15]): Numerical
// Recipes' erfcc, t e^(-z^2 + P(t)) with t = 1 / (1 + z / 2), z = a / sqrt 2, fractional error
// below 1.2e-7 over all z >= 0 (before float rounding). -z^2 = -a^2 / 2 is split as in
// vexp_neg_half_square (h^2 / 2 exact, the rounding only in the small rest), but the two parts
// go into one exp (half the cost of gelu's forward was its second exp).
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
  const R h = V::mul(V::round(V::mul(a, V::set1(64.0f))), V::set1(1.0f / 64.0f));
  const R big = V::mul(V::mul(h, h), V::set1(-0.5f));
  const R small = V::fmadd(V::mul(V::sub(a, h), V::add(a, h)), V::set1(-0.5f), p);
  return vexp_two_part_scaled<V>(big, small, V::mul(m, V::mul(t, V::set1(0.5f))));
}

// |x| clamped to [0, 15], where Phi has reached its float limit (Phi(-15) ~ 4e-51; 15 Phi(-15)
// rounds to 0 too); NaN becomes 15 (the callers restore it).
template <class V>
inline typename V::R abs_clamped15(const typename V::R& x) {
  return V::min(V::abs(x), V::set1(15.0f));
}

// Phi(x), the standard normal CDF: the tail for x < 0, 1 - tail above.
template <class V>
inline typename V::R vnormal_cdf(const typename V::R& x) {
  const typename V::R tail = vnormal_tail<V>(abs_clamped15<V>(x), V::set1(1.0f));
  return V::select(V::gt(V::zero(), x), V::sub(V::set1(1.0f), tail), tail);
}

// x Phi(x) (gelu) without a denormal Phi in between: x times the tail for x < 0 (x clamped as
// a: below -15 the result is -0, as it rounds to; NaN stays NaN through m).
template <class V>
inline typename V::R vx_normal_cdf(const typename V::R& x) {
  using R = typename V::R;
  const typename V::M negative = V::gt(V::zero(), x);
  const R one = V::set1(1.0f), a = abs_clamped15<V>(x);
  const R m = V::select(V::isnan(x), V::select(negative, one, V::sub(V::zero(), a)), x);
  const R r = vnormal_tail<V>(a, m);
  return V::select(negative, V::mul(x, V::sub(one, r)), r);
}

// The density e^(-x^2/2) / sqrt(2 pi), for |x| <= 20 (NaN becomes 20: the callers restore it).
template <class V>
inline typename V::R vnormal_pdf(const typename V::R& x) {
  const typename V::R a = V::min(V::abs(x), V::set1(20.0f));
  return vexp_neg_half_square<V>(a, V::zero(), V::set1(0.39894228f));
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
