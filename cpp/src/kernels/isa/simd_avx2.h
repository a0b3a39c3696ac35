// AVX2 + FMA wrappers (8 floats). Include ONLY from *_avx2.cpp files: only those are compiled
// with -mavx2 -mfma, and only the runtime dispatcher decides that their code may run.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace pocketcnn::kernels::simd {

struct Avx2Vec {
  static constexpr int W = 8;
  using R = __m256;
  using Narrow = Avx2Vec;  // no narrower vector worth a kernel (see Avx512Vec::Narrow)
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R a) { _mm256_storeu_ps(p, a); }
  static __m256i mask(int n) {
    // Lane i is on iff i < n: compare (0..7) < n.
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // vmaskmovps does not fault on masked-off lanes, so reading just past a buffer is safe.
  static R load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  // Not vmaskmovps to memory: AMD executes it as slow microcode (~10x a plain store; measured in
  // the pooling tails). Nor a copy through the stack: the compiler turns that loop into a memcpy
  // call (7.5% of the lecture net's conv 1 + pool). Stores of 4, 2 and 1 lanes by n's bits
  // (0 <= n <= 8).
  static void store_partial(float* p, R a, int n) {
    if (n >= 8) {
      store(p, a);
      return;
    }
    __m128 part = _mm256_castps256_ps128(a);
    if (n & 4) {
      _mm_storeu_ps(p, part);
      part = _mm256_extractf128_ps(a, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
      part = _mm_movehl_ps(part, part);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, part);
  }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R sqrt(R a) { return _mm256_sqrt_ps(a); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  // The helpers of the vectorised math (pointwise/vmath_impl.h); see simd_generic.h.
  static R round(R a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static R copysign(R mag, R s) {
    const R sign = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, s));
  }
  static R ldexp(R a, R n) {
    const __m256i k = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(k, 1);
    const __m256i bias = _mm256_set1_epi32(127);
    const R f1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
    const R f2 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(k, h), bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(a, f1), f2);
  }
  static R pow2_bits(R t) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
  }
  static R exponent(R a, R& mant) {
    const __m256i b = _mm256_castps_si256(a);
    mant = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)),
                                               _mm256_set1_epi32(0x3f800000)));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(127)));
  }
  static float hmax(R a) {
    alignas(32) float t[8];
    _mm256_store_ps(t, a);
    float m = t[0];
    for (int i = 1; i < 8; ++i) m = t[i] > m ? t[i] : m;
    return m;
  }
  using M = __m256;  // all-ones / all-zeros lanes
  static M gt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M eq(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M isnan(R a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M either_nan(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
  static bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static M mand(M a, M b) { return _mm256_and_ps(a, b); }
  static M mandnot(M a, M b) { return _mm256_andnot_ps(b, a); }
  static R select(M m, R a, R b) { return _mm256_blendv_ps(a, b, m); }
  static R maskz(M m, R a) { return _mm256_and_ps(m, a); }
  static void deinterleave(R a, R b, R& even, R& odd) {
    // Within 128-bit lanes: [a0 a2 b0 b2 | a4 a6 b4 b6]; then put the 64-bit pieces in order.
    even = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  }
  // deinterleave without its two lane-crossing permutes: even and odd in the order
  // [0 1 4 5 2 3 6 7] (the same for both), which lane-wise arithmetic does not mind; in_order
  // then fixes the result with one permute instead of one per input (pooling: 4 -> 1 per block).
  static void deinterleave_in_lanes(R a, R b, R& even, R& odd) {
    even = _mm256_shuffle_ps(a, b, 0x88);
    odd = _mm256_shuffle_ps(a, b, 0xDD);
  }
  static R in_order(R a) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(a), 0xD8));
  }
  static void interleave(R even, R odd, R& lo, R& hi) {
    // Per 128-bit lane: l = [e0 o0 e1 o1 | e4 o4 e5 o5], h = [e2 o2 e3 o3 | e6 o6 e7 o7].
    const R l = _mm256_unpacklo_ps(even, odd), h = _mm256_unpackhi_ps(even, odd);
    lo = _mm256_permute2f128_ps(l, h, 0x20);
    hi = _mm256_permute2f128_ps(l, h, 0x31);
  }
  // [prev7 a0 a1 a2 | a3 a4 a5 a6]: t = [prev's high half | a's low half], then per 128-bit lane
  // the 4 floats starting one below a's (alignr by 12 bytes).
  static R slide1(R prev, R a) {
    const __m256i t = _mm256_castps_si256(_mm256_permute2f128_ps(a, prev, 0x03));
    return _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(a), t, 12));
  }
  // r[i][j] <- r[j][i] for the 8 vectors r[0..7] (an 8x8 block of floats): pairs of rows
  // interleaved, then pairs of pairs, then the 128-bit halves swapped into place.
  static void transpose(R* r) {
    const R t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const R t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const R t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const R t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const R s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const R s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const R s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const R s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
  }
  // out[i] = the lane sum of v[i], i < 4: three horizontal adds and one 128-bit add for all four
  // (instead of four separate reductions).
  static void hsum4(R a, R b, R c, R d, float* out) {
    const R h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
  }
  // The same summation order as hsum4, so a row's result does not depend on whether it was
  // reduced alone or in a group of four (a sample's output must not depend on its batch).
  static float hsum(R a) {
    const R h = _mm256_hadd_ps(_mm256_hadd_ps(a, a), _mm256_hadd_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
  }
};

}  // namespace pocketcnn::kernels::simd
