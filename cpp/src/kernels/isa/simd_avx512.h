// AVX-512 wrappers (16 floats). Include ONLY from *_avx512.cpp files: only those are compiled
// with -mavx512f/bw/dq/vl, and only the runtime dispatcher decides that their code may run.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/isa/simd_avx2.h"

namespace pocketcnn::kernels::simd {

struct Avx512Vec {
  static constexpr int W = 16;
  using R = __m512;
  // Half-width vectors for kernels whose lanes run over too few elements (conv_forward_impl.h):
  // 8-lane ymm, which with AVX-512 enabled still have 32 registers.
  using Narrow = Avx2Vec;
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float x) { return _mm512_set1_ps(x); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R a) { _mm512_storeu_ps(p, a); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  // Masked-off lanes are not accessed (no fault past the end of a buffer).
  static R load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_partial(float* p, R a, int n) { _mm512_mask_storeu_ps(p, mask(n), a); }
  static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R sqrt(R a) { return _mm512_sqrt_ps(a); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  // The helpers of the vectorised math (pointwise/vmath_impl.h); see simd_generic.h.
  static R round(R a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static R copysign(R mag, R s) {
    const R sign = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(sign, mag), _mm512_and_ps(sign, s));
  }
  static R ldexp(R a, R n) { return _mm512_scalef_ps(a, n); }
  static R pow2_bits(R t) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(t), 23));
  }
  static R exponent(R a, R& mant) {
    mant = _mm512_getmant_ps(a, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    return _mm512_getexp_ps(a);
  }
  static float hmax(R a) {
    alignas(64) float t[16];
    _mm512_store_ps(t, a);
    float m = t[0];
    for (int i = 1; i < 16; ++i) m = t[i] > m ? t[i] : m;
    return m;
  }
  using M = __mmask16;
  static M gt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M eq(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M isnan(R a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M either_nan(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
  static bool any(M m) { return m != 0; }
  static M mor(M a, M b) { return static_cast<M>(a | b); }
  static M mand(M a, M b) { return static_cast<M>(a & b); }
  static M mandnot(M a, M b) { return static_cast<M>(a & ~b); }
  static R select(M m, R a, R b) { return _mm512_mask_blend_ps(m, a, b); }
  static R maskz(M m, R a) { return _mm512_maskz_mov_ps(m, a); }
  static void deinterleave(R a, R b, R& even, R& odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, ie, b);
    odd = _mm512_permutex2var_ps(a, io, b);
  }
  // One permute per output already: no cheaper order to leave for in_order (see simd_avx2.h).
  static void deinterleave_in_lanes(R a, R b, R& even, R& odd) { deinterleave(a, b, even, odd); }
  static R in_order(R a) { return a; }
  static void interleave(R even, R odd, R& lo, R& hi) {
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ih =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    lo = _mm512_permutex2var_ps(even, il, odd);
    hi = _mm512_permutex2var_ps(even, ih, odd);
  }
  // [prev15 a0 .. a14]: a moved one lane up, prev's last lane carried in.
  static R slide1(R prev, R a) {
    const __m512i idx = _mm512_setr_epi32(31, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    return _mm512_permutex2var_ps(a, idx, prev);
  }
  // r[i][j] <- r[j][i] for the 16 vectors r[0..15] (a 16x16 block of floats): rows interleaved
  // in pairs, then in fours (column x of each 128-bit lane, rows 4g..4g+3), then the 128-bit lanes
  // gathered in two shuffles. 64 shuffles; the version through memory this replaces made the
  // direct convolution's NCHW epilogue cost as much as a third of its FMAs.
  static void transpose(R* r) {
    R c[4][4];  // c[g][x]: lane L holds column 4L + x of rows 4g .. 4g + 3
    for (int g = 0; g < 4; ++g) {
      const R t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
      const R t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
      const R t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
      const R t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
      c[g][0] = _mm512_shuffle_ps(t0, t2, 0x44), c[g][1] = _mm512_shuffle_ps(t0, t2, 0xEE);
      c[g][2] = _mm512_shuffle_ps(t1, t3, 0x44), c[g][3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int x = 0; x < 4; ++x) {
      const R e0 = _mm512_shuffle_f32x4(c[0][x], c[1][x], 0x88);  // lanes 0 and 2
      const R f0 = _mm512_shuffle_f32x4(c[0][x], c[1][x], 0xDD);  // lanes 1 and 3
      const R e1 = _mm512_shuffle_f32x4(c[2][x], c[3][x], 0x88);
      const R f1 = _mm512_shuffle_f32x4(c[2][x], c[3][x], 0xDD);
      r[x] = _mm512_shuffle_f32x4(e0, e1, 0x88), r[8 + x] = _mm512_shuffle_f32x4(e0, e1, 0xDD);
      r[4 + x] = _mm512_shuffle_f32x4(f0, f1, 0x88), r[12 + x] = _mm512_shuffle_f32x4(f0, f1, 0xDD);
    }
  }
  static void hsum4(R a, R b, R c, R d, float* out) {
    out[0] = hsum(a);
    out[1] = hsum(b);
    out[2] = hsum(c);
    out[3] = hsum(d);
  }
  // Not _mm512_reduce_add_ps / _mm512_castps512_ps128: GCC 12's versions trip -Wuninitialized
  // inside its own header. Folding to 4 lanes in registers and summing those through memory is
  // just as fast outside the hot loops, where this runs.
  static float hsum(R a) {
    R s = _mm512_add_ps(a, _mm512_maskz_shuffle_f32x4(0xFFFF, a, a, 0x4E));  // + other 256 bits
    s = _mm512_add_ps(s, _mm512_maskz_shuffle_f32x4(0xFFFF, s, s, 0xB1));    // + other 128 bits
    alignas(64) float t[16];
    _mm512_store_ps(t, s);
    return (t[0] + t[1]) + (t[2] + t[3]);
  }
};

}  // namespace pocketcnn::kernels::simd
