// One-off exhaustive sweep (issue #16), not part of the test build: is f (vmath_impl.h /
// activation_fast_impl.h, one ISA) monotone non-decreasing over all finite floats, NaN only from
// NaN, and which inputs give -0 / +0 (conv2d.h's pool_commutes relies on it). Build and run:
//   I="-Icpp/src -Icpp/include"
//   g++ -O2 -std=c++17 $I -DSWEEP_AVX2 -mavx2 -mfma -mf16c tests/cpp/sweeps/activation_monotone.cpp
//   -o s_avx2 g++ -O2 -std=c++17 $I tests/cpp/sweeps/activation_monotone.cpp -o s_scalar
//   ./s_avx2 tanh sigmoid exp hard_sigmoid   (~2 min per function on a loaded Zen 3)
// Result (2026-12-02, Zen 3): tanh, sigmoid, exp, hard_sigmoid: 0 decreasing steps under both
// scalar and avx2; the former sigmoid (e / (1 + e) below 0) had 198,180 under avx2.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#ifdef SWEEP_AVX2
#include "kernels/isa/simd_avx2.h"
using V = pocketcnn::kernels::simd::Avx2Vec;
static const char* kIsa = "avx2";
#else
#include "kernels/isa/simd_generic.h"
using V = pocketcnn::kernels::simd::GenericVec<8>;
static const char* kIsa = "scalar";
#endif
#include "kernels/pointwise/activation_fast_impl.h"
#include "kernels/pointwise/vmath_impl.h"
using namespace pocketcnn::kernels;
using namespace pocketcnn::kernels::impl;

static float fb(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint32_t bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

template <class F>
void sweep(const char* name, F f) {
  const uint64_t total = 2ull * 0x7f800000ull;  // finite floats, increasing
  const int64_t chunk = 1 << 20;
  std::vector<float> x(chunk), y(chunk);
  float prev = -INFINITY, prev_x = -INFINITY;
  uint64_t down = 0, down_pos = 0, nan_out = 0, neg_zero = 0, pos_zero = 0;
  double worst = 0;
  float wx = 0;
  std::vector<float> negz_x, posz_x;
  for (uint64_t i0 = 0; i0 < total; i0 += chunk) {
    const int64_t n = static_cast<int64_t>(std::min<uint64_t>(chunk, total - i0));
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t i = i0 + j;
      x[j] = i < 0x7f800000ull ? fb(0x80000000u | static_cast<uint32_t>(0x7f7fffffull - i))
                               : fb(static_cast<uint32_t>(i - 0x7f800000ull));
    }
    for (int64_t j = 0; j + V::W <= n; j += V::W) V::store(y.data() + j, f(V::load(x.data() + j)));
    for (int64_t k = 0; k < n; ++k) {
      const float v = y[k];
      if (std::isnan(v)) {
        ++nan_out;
        continue;
      }
      if (v == 0.0f) {
        if (std::signbit(v)) {
          ++neg_zero;
          if (negz_x.size() < 3) negz_x.push_back(x[k]);
        } else {
          ++pos_zero;
          if (posz_x.size() < 3) posz_x.push_back(x[k]);
        }
      }
      if (v < prev) {
        ++down;
        if (x[k] > 0) ++down_pos;
        const double d = static_cast<double>(prev) - v;
        if (d > worst) worst = d, wx = x[k];
        if (down <= 3) std::printf("  %s down: f(%a)=%a > f(%a)=%a\n", name, prev_x, prev, x[k], v);
      }
      prev = v, prev_x = x[k];
    }
  }
  std::printf(
      "%s %s: %llu finite floats, decreasing steps %llu (%llu at x > 0; worst %g at %a), "
      "NaN outputs %llu, -0 outputs %llu, +0 outputs %llu\n",
      kIsa, name, (unsigned long long)total, (unsigned long long)down, (unsigned long long)down_pos,
      worst, wx, (unsigned long long)nan_out, (unsigned long long)neg_zero,
      (unsigned long long)pos_zero);
  for (float z : negz_x) std::printf("  -0 from %a\n", z);
  for (float z : posz_x) std::printf("  +0 from %a\n", z);
  float sp[V::W] = {INFINITY,        -INFINITY,       0.0f,  -0.0f, fb(0x7fc12345u),
                    fb(0xffc00001u), fb(0x7f800001u), 1e-45f};
  float so[V::W];
  V::store(so, f(V::load(sp)));
  for (int k = 0; k < V::W; ++k) std::printf("  f(%08x)=%08x\n", bf(sp[k]), bf(so[k]));
  std::fflush(stdout);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "tanh") sweep("tanh", [](const V::R& v) { return vtanh<V>(v); });
    if (a == "sigmoid") sweep("sigmoid", [](const V::R& v) { return vsigmoid<V>(v); });
    if (a == "exp") sweep("exp", [](const V::R& v) { return vexp<V>(v); });
    if (a == "hard_sigmoid")
      sweep("hard_sigmoid",
            [](const V::R& v) { return activation_lane<V>({ActivationOp::HardSigmoid}, v); });
    if (a == "leaky_relu")
      sweep("leaky_relu", [](const V::R& v) {
        return activation_lane<V>({ActivationOp::LeakyRelu, 0.2f}, v);
      });
  }
}
