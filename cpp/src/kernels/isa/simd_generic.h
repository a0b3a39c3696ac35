// Portable "vector" of W floats for the scalar ISA: plain loops that any C++17 compiler builds
// (and that compilers auto-vectorise with the baseline SSE2/NEON). It has the same interface as
// the intrinsic wrappers in simd_avx2.h / simd_avx512.h, so the one templated kernel source
// (gemm_impl.h, conv2d_impl.h, ...) serves every ISA. Tests also instantiate it with W = 16 to
// run the AVX-512 blocking logic on machines without AVX-512.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace pocketcnn::kernels::simd {

template <int Width>
struct GenericVec {
  static constexpr int W = Width;
  // As Avx512Vec::Narrow: the 16-lane stand-in for AVX-512 narrows to 8 lanes.
  using Narrow = GenericVec<(Width > 8 ? Width / 2 : Width)>;
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
  static R div(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] / b.v[i];
    return r;
  }
  static R sqrt(const R& a) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = std::sqrt(a.v[i]);
    return r;
  }
  // a if a > b, else b (b on equal values and on NaN): x86's maxps, which the kernels rely on.
  static R max(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return r;
  }
  // a if a < b, else b (b on NaN): x86's minps.
  static R min(const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
    return r;
  }
  // The helpers of the vectorised math (pointwise/vmath_impl.h): lane bits as integers.
  static int32_t bits(float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i;
  }
  static float from_bits(int32_t i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
  }
  // The nearest integer, ties to even (the default rounding mode).
  static R round(const R& a) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = std::nearbyint(a.v[i]);
    return r;
  }
  // |a| (the sign bit cleared, NaN too).
  static R abs(const R& a) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = from_bits(bits(a.v[i]) & 0x7fffffff);
    return r;
  }
  // |mag| with the sign bit of s.
  static R copysign(const R& mag, const R& s) {
    R r;
    for (int i = 0; i < W; ++i) {
      r.v[i] = from_bits((bits(mag.v[i]) & 0x7fffffff) | (bits(s.v[i]) & INT32_MIN));
    }
    return r;
  }
  // a * 2^n for integral n in [-252, 254]: two exact power-of-two factors, so a result in the
  // denormal range is rounded once (as _mm512_scalef_ps does).
  static R ldexp(const R& a, const R& n) {
    R r;
    for (int i = 0; i < W; ++i) {
      const int32_t k = static_cast<int32_t>(n.v[i]), h = k >> 1;
      r.v[i] = a.v[i] * from_bits((h + 127) << 23) * from_bits((k - h + 127) << 23);
    }
    return r;
  }
  // 2^k for the float whose bit pattern ends in k + 127 (k + 127 in [1, 254]): vmath's exp
  // rounds x / ln 2 by adding 1.5 * 2^23 + 127, which leaves k + 127 in the low bits; shifting
  // them into the exponent field is one integer op, instead of a convert and ldexp's two factors.
  static R pow2_bits(const R& t) {
    R r;
    for (int i = 0; i < W; ++i) {
      r.v[i] = from_bits(static_cast<int32_t>(static_cast<uint32_t>(bits(t.v[i])) << 23));
    }
    return r;
  }
  // For positive normal a = m * 2^e with m in [1, 2): e (as a float); m in `mant`.
  static R exponent(const R& a, R& mant) {
    R r;
    for (int i = 0; i < W; ++i) {
      const int32_t b = bits(a.v[i]);
      r.v[i] = static_cast<float>(((b >> 23) & 0xff) - 127);
      mant.v[i] = from_bits((b & 0x007fffff) | 0x3f800000);
    }
    return r;
  }
  // The largest lane by V::max's rule (NaN lanes lose).
  static float hmax(const R& a) {
    float m = a.v[0];
    for (int i = 1; i < W; ++i) m = a.v[i] > m ? a.v[i] : m;
    return m;
  }
  // Lane masks and selects (for pooling and ReLU's gradient).
  struct M {
    bool v[Width];
  };
  static M gt(const R& a, const R& b) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] > b.v[i];
    return m;
  }
  static M eq(const R& a, const R& b) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] == b.v[i];
    return m;
  }
  static M isnan(const R& a) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] != a.v[i];
    return m;
  }
  static M either_nan(const R& a, const R& b) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] != a.v[i] || b.v[i] != b.v[i];
    return m;
  }
  static bool any(const M& m) {
    for (int i = 0; i < W; ++i)
      if (m.v[i]) return true;
    return false;
  }
  static M mor(const M& a, const M& b) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] || b.v[i];
    return m;
  }
  static M mand(const M& a, const M& b) {
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] && b.v[i];
    return m;
  }
  static M mandnot(const M& a, const M& b) {  // a & ~b
    M m;
    for (int i = 0; i < W; ++i) m.v[i] = a.v[i] && !b.v[i];
    return m;
  }
  // m ? b : a
  static R select(const M& m, const R& a, const R& b) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = m.v[i] ? b.v[i] : a.v[i];
    return r;
  }
  // m ? a : 0
  static R maskz(const M& m, const R& a) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = m.v[i] ? a.v[i] : 0.0f;
    return r;
  }
  // (lo, hi) = 2W consecutive floats -> (even-indexed, odd-indexed) floats.
  static void deinterleave(const R& lo, const R& hi, R& even, R& odd) {
    for (int i = 0; i < W; ++i) {
      const R& src = 2 * i < W ? lo : hi;
      even.v[i] = src.v[(2 * i) % W];
      odd.v[i] = src.v[(2 * i + 1) % W];
    }
  }
  // deinterleave in an order private to the vector type, restored by in_order (see
  // simd_avx2.h). Here the lanes come reversed, on purpose: every ISA's caller is tested on this
  // type, so a missing in_order shows there, not only on AVX2.
  static void deinterleave_in_lanes(const R& lo, const R& hi, R& even, R& odd) {
    R e, o;
    deinterleave(lo, hi, e, o);
    even = in_order(e);
    odd = in_order(o);
  }
  static R in_order(const R& a) {
    R r;
    for (int i = 0; i < W; ++i) r.v[i] = a.v[W - 1 - i];
    return r;
  }
  // The inverse: 2W consecutive floats (lo, hi) with [2i] = even[i], [2i+1] = odd[i].
  static void interleave(const R& even, const R& odd, R& lo, R& hi) {
    for (int i = 0; i < W; ++i) {
      R& dst = 2 * i < W ? lo : hi;
      dst.v[(2 * i) % W] = even.v[i];
      dst.v[(2 * i + 1) % W] = odd.v[i];
    }
  }
  // [prev's last lane, a's lanes 0 .. W-2]: a moved one lane up, the lane below it carried in.
  static R slide1(const R& prev, const R& a) {
    R r;
    r.v[0] = prev.v[W - 1];
    for (int i = 1; i < W; ++i) r.v[i] = a.v[i - 1];
    return r;
  }
  // r[i].v[j] <- r[j].v[i] for the W vectors r[0..W-1].
  static void transpose(R* r) {
    for (int i = 0; i < W; ++i)
      for (int j = i + 1; j < W; ++j) {
        const float t = r[i].v[j];
        r[i].v[j] = r[j].v[i];
        r[j].v[i] = t;
      }
  }
  // out[i] = the lane sum of v[i], i < 4.
  static void hsum4(const R& a, const R& b, const R& c, const R& d, float* out) {
    out[0] = hsum(a);
    out[1] = hsum(b);
    out[2] = hsum(c);
    out[3] = hsum(d);
  }
  static float hsum(const R& a) {
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += a.v[i];
    return s;
  }
};

}  // namespace pocketcnn::kernels::simd
