// AVX2 + FMA wrappers (8 floats). Include ONLY from *_avx2.cpp files: only those are compiled
// with -mavx2 -mfma, and only the runtime dispatcher decides that their code may run.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace pocketcnn::kernels::simd {

struct Avx2Vec {
  static constexpr int W = 8;
  using R = __m256;
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
  static void store_partial(float* p, R a, int n) { _mm256_maskstore_ps(p, mask(n), a); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static float hsum(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace pocketcnn::kernels::simd
