// The vectorised exp, log, tanh and sigmoid (pointwise/vmath_impl.h, through unary_forward)
// against the float64 functions over the whole float range, under every ISA and thread count:
// 0 and -0, denormals of both signs, +-inf, NaN, the saturating ranges, and a sweep through every
// 1021st float bit pattern (about 4.2 million inputs, every binade of both signs) plus a dense
// grid where the functions bend. The error bounds asserted here are the ones vmath_impl.h states
// (measured over all 2^32 floats on AVX-512, AVX2 and the portable vectors).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/elementwise.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;

namespace {

class VmathTest : public pocketcnn::testing::IsaThreadsTest {};

double reference(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::Exp:
      return std::exp(x);
    case UnaryOp::Log:
      return std::log(x);
    case UnaryOp::Tanh:
      return std::tanh(x);
    default:  // Sigmoid
      return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
  }
}

// The float spacing at the exact result (2^-149 in the denormal range).
double ulp_at(double exact) {
  const double a = std::fabs(exact);
  if (a < FLT_MIN) return std::ldexp(1.0, -149);
  int e;
  std::frexp(static_cast<float>(std::min(a, static_cast<double>(FLT_MAX))), &e);
  return std::ldexp(1.0, e - 24);
}

std::vector<float> whole_float_range() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f,    -0.0f,    inf,       -inf,      std::nanf(""), -std::nanf(""),
                          1e-45f,  -1e-45f,  1e-40f,    -1e-40f,   FLT_MIN,       -FLT_MIN,
                          FLT_MAX, -FLT_MAX, 88.72283f, 88.72284f, 89.0f,         -87.33654f,
                          -103.9f, -104.0f,  -1e4f,     1e4f,      0.625f,        -0.625f,
                          9.01f,   -9.01f,   1.0f,      -1.0f,     1.4142135f,    0.70710677f};
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 1021) {
    const uint32_t u = static_cast<uint32_t>(b);
    float f;
    std::memcpy(&f, &u, sizeof f);
    x.push_back(f);
  }
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);  // [-20, 20]
  return x;
}

struct Bound {
  UnaryOp op;
  const char* name;
  double max_ulp;
};

TEST_P(VmathTest, WithinStatedUlpOfFloat64OverTheWholeRange) {
  static const std::vector<float> x = whole_float_range();
  const Bound bounds[] = {{UnaryOp::Exp, "exp", 1.5},
                          {UnaryOp::Log, "log", 1.0},
                          {UnaryOp::Tanh, "tanh", 2.0},
                          {UnaryOp::Sigmoid, "sigmoid", 2.5}};
  for (const Bound& b : bounds) {
    std::vector<float> y(x.size(), 7.0f);
    unary_forward(b.op, static_cast<int64_t>(x.size()), x.data(), y.data());
    double worst = 0.0;
    float worst_x = 0.0f;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = reference(b.op, x[i]);
      const float want_f = static_cast<float>(want);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(y[i])) << b.name << "(" << x[i] << ") = " << y[i] << ", want NaN";
        continue;
      }
      ASSERT_FALSE(std::isnan(y[i])) << b.name << "(" << x[i] << ") is NaN, want " << want;
      if (std::isinf(want_f) || want_f == 0.0f) {  // overflow, saturation to 0, exact zeros
        ASSERT_EQ(y[i], want_f) << b.name << "(" << x[i] << ")";
        ASSERT_EQ(std::signbit(y[i]), std::signbit(want_f)) << b.name << "(" << x[i] << ")";
        continue;
      }
      ASSERT_FALSE(std::isinf(y[i])) << b.name << "(" << x[i] << ") = " << y[i];
      const double err = std::fabs(static_cast<double>(y[i]) - want) / ulp_at(want);
      if (err > worst) worst = err, worst_x = x[i];
    }
    std::printf("  %-8s max error %.3f ulp (at x = %.9g)\n", b.name, worst, worst_x);
    EXPECT_LE(worst, b.max_ulp) << b.name << " at x = " << worst_x;
  }
}

// Saturation: large |x| gives the limits exactly, never NaN or overflow.
TEST_P(VmathTest, SaturatesWithoutNanOrOverflow) {
  const float big[] = {
      10.0f, 50.0f, 100.0f, 1e4f, 1e30f, FLT_MAX, std::numeric_limits<float>::infinity()};
  for (float v : big) {
    const float in[4] = {v, -v, v, -v};
    float t[4], s[4], e[4];
    unary_forward(UnaryOp::Tanh, 4, in, t);
    unary_forward(UnaryOp::Sigmoid, 4, in, s);
    unary_forward(UnaryOp::Exp, 4, in, e);
    EXPECT_EQ(t[0], 1.0f) << v;
    EXPECT_EQ(t[1], -1.0f) << v;
    if (v >= 20.0f) EXPECT_EQ(s[0], 1.0f) << v;  // 1 - 2e-9 rounds to 1
    EXPECT_GE(s[1], 0.0f) << v;
    EXPECT_LT(s[1], 5e-5f) << v;
    EXPECT_FALSE(std::isnan(e[0]) || std::isnan(e[1])) << v;
    EXPECT_EQ(e[0] == std::numeric_limits<float>::infinity(), v >= 100.0f) << v;
    if (v >= 110.0f) EXPECT_EQ(e[1], 0.0f) << v;  // below 2^-150
  }
}

// exp and sigmoid take a clamped two-factor ldexp only for vectors with a lane that needs it
// (vmath_impl.h: |x| > 87 for exp, x < -87 for sigmoid); a lane's result must not depend on
// which path its vector took (nor, so, on its neighbours in a batch). Blocks of 16 (every
// ISA's vector width divides it): each block once alone, once with lane 0 forcing the rare path.
TEST_P(VmathTest, RarePathGivesTheSameFloatsAsTheCommonOne) {
  std::vector<float> plain, mixed;
  for (int i = 0; i < 16 * 64; ++i) {
    const float v = -86.0f + 172.0f * static_cast<float>((i * 7919) % 1021) / 1021.0f;
    plain.push_back(v);
    mixed.push_back(i % 16 == 0 ? -100.0f : v);
  }
  const int64_t n = static_cast<int64_t>(plain.size());
  for (UnaryOp op : {UnaryOp::Exp, UnaryOp::Sigmoid}) {
    std::vector<float> a(plain.size()), b(plain.size());
    unary_forward(op, n, plain.data(), a.data());
    unary_forward(op, n, mixed.data(), b.data());
    for (int64_t i = 0; i < n; ++i) {
      if (i % 16 == 0) continue;
      ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0)
          << static_cast<int>(op) << " at x = " << plain[i] << ": " << a[i] << " vs " << b[i];
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(VmathTest);

}  // namespace
