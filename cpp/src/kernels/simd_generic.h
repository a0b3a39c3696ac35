// Portable "vector" of W floats for the scalar ISA: plain loops that any C++17 compiler builds
// (and that compilers auto-vectorise with the baseline SSE2/NEON). It has the same interface as
// the intrinsic wrappers in simd_avx2.h / simd_avx512.h, so the one templated kernel source
// (gemm_impl.h, conv2d_impl.h, ...) serves every ISA. Tests also instantiate it with W = 16 to
// run the AVX-512 blocking logic on machines without AVX-512.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels::simd {

template <int Width>
struct GenericVec {
  static constexpr int W = Width;
  struct R {
    float v[Width];
  };
  static R zero() {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = 0.0f;
    return r;
  }
  static R set1(float x) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = x;
    return r;
  }
  static R load(const float* p) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = p[i];
    return r;
  }
  static void store(float* p, const R& a) {
    for (int i = 0; i < W; ++i) p[i] = a.v[i];
  }
  // Lanes >= n read as zero and are never touched in memory (0 <= n <= W).
  static R load_partial(const float* p, int n) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = i < n ? p[i] : 0.0f;
    return r;
  }
  static void store_partial(float* p, const R& a, int n) {
    for (int i = 0; i < n; ++i) p[i] = a.v[i];
  }
  // a * b + c, rounded once where the hardware has FMA (std::fma would be slow without it;
  // the tests compare with a tolerance, not bit-exactly).
  static R fmadd(const R& a, const R& b, const R& c) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
  }
  static R add(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
  }
  static R sub(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] - b.v[i];
    return r;
  }
  static R mul(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i];
    return r;
  }
  static R max(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return r;
  }
  static float hsum(const R& a) {
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += a.v[i];
    return s;
  }
};

}  // namespace pocketcnn::kernels::simd
