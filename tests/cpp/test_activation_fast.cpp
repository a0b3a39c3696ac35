// The activations of kernels/pointwise/activation_ops.h -- leaky_relu, elu, gelu (erf and tanh
// forms), silu, hard_sigmoid, softplus -- under every ISA and thread count:
// - the vectorised forward against independent long-double formulas over the whole float range
//   (0, -0, denormals, +-inf, NaN, every 1021st bit pattern, a dense grid on [-20, 20]), within
//   the ulp bounds stated below (where the result is a normal float; in the denormal range the
//   error is bounded in units of 2^-149);
// - the reference kernels against the same formulas (correctly rounded from double);
// - the vectorised backward against the reference backward, and bit for bit where promised.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/activation_fast.h"
#include "kernels/pointwise/activation_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

class ActivationFastTest : public pocketcnn::testing::IsaThreadsTest {};

constexpr float kInf = std::numeric_limits<float>::infinity();

// The textbook definitions in long double (expm1l, erfcl, log1pl: another code path than the
// reference kernel's double one). The limits at +-inf where x * f(x) is inf * 0.
long double exact(const ActivationParams& p, float xf) {
  const long double x = xf, a = p.alpha;
  if (std::isnan(xf)) return xf;
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return x > 0 ? x : a * x;
    case ActivationOp::Elu:
      return x > 0 ? x : a * std::expm1l(x);
    case ActivationOp::Gelu:
      if (xf == -kInf) return -0.0L;
      return x * 0.5L * std::erfcl(-x / std::sqrt(2.0L));
    case ActivationOp::GeluTanh: {
      if (xf == -kInf) return -0.0L;
      const long double u =
          std::sqrt(2.0L / 3.14159265358979323846264338327950288L) * (x + 0.044715L * x * x * x);
      return x / (1.0L + std::exp(-2.0L * u));  // x (1 + tanh u) / 2 = x sigmoid(2u)
    }
    case ActivationOp::Silu:
      if (xf == -kInf) return -0.0L;
      return x / (1.0L + std::exp(-x));
    case ActivationOp::HardSigmoid:
      return std::fmin(std::fmax(x + 3.0L, 0.0L), 6.0L) / 6.0L;
    case ActivationOp::Softplus:
      return std::fmax(x, 0.0L) + std::log1pl(std::exp(-std::fabs(x)));
  }
  return x;
}

// The float spacing at the exact result (2^-149 in the denormal range).
double ulp_at(double v) {
  const double a = std::fabs(v);
  if (a < FLT_MIN) return std::ldexp(1.0, -149);
  int e;
  std::frexp(static_cast<float>(std::min(a, static_cast<double>(FLT_MAX))), &e);
  return std::ldexp(1.0, e - 24);
}

std::vector<float> whole_float_range() {
  std::vector<float> x = {0.0f,        -0.0f,        kInf,   -kInf,   std::nanf(""), -std::nanf(""),
                          1e-45f,      -1e-45f,      1e-40f, -1e-40f, FLT_MIN,       -FLT_MIN,
                          FLT_MAX,     -FLT_MAX,     3.0f,   -3.0f,   20.0f,         -20.0f,
                          0.34657359f, -0.34657359f, 88.0f,  -88.0f,  1e13f,         -1e13f};
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 1021) {
    const uint32_t u = static_cast<uint32_t>(b);
    float f;
    std::memcpy(&f, &u, sizeof f);
    x.push_back(f);
  }
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);  // [-20, 20]
  return x;
}

struct Case {
  ActivationParams p;
  const char* name;
  double max_ulp;       // normal results
  double max_denormal;  // denormal results, in units of 2^-149
  // Below tail_below (normal results): at most tail_ulp. The tanh-form gelu rounds its argument
  // u = sqrt(2/pi) (x + 0.044715 x^3) to float, and e^u amplifies an absolute error of u into a
  // relative one of ~|u| 2^-24 -- inherent in computing it in float32 (as PyTorch does; its
  // 1 + tanh u even cancels to 0 there).
  float tail_below = -kInf;
  double tail_ulp = 0;
};

// The bounds asserted for the vectorised forward (the measured maxima are printed).
const Case kCases[] = {
    {{ActivationOp::LeakyRelu, 0.2f}, "leaky_relu(0.2)", 0.5, 1},
    {{ActivationOp::LeakyRelu, 0.01f}, "leaky_relu(0.01)", 0.5, 1},
    {{ActivationOp::Elu, 1.0f}, "elu(1)", 4.0, 1},
    {{ActivationOp::Elu, 0.5f}, "elu(0.5)", 4.0, 1},
    {{ActivationOp::Gelu}, "gelu", 8.0, 64},
    {{ActivationOp::GeluTanh}, "gelu_tanh", 16.0, 128, -3.0f, 512},
    {{ActivationOp::Silu}, "silu", 4.0, 128},
    {{ActivationOp::HardSigmoid}, "hard_sigmoid", 1.5, 1},
    {{ActivationOp::Softplus}, "softplus", 4.0, 2},
};

struct ErrorStats {
  double worst_ulp = 0, worst_denormal = 0, worst_tail = 0;
  float at = 0, at_denormal = 0, at_tail = 0;
};

// Compares y = f(x) with the exact values; special values must match exactly.
::testing::AssertionResult within_bounds(const Case& c, const std::vector<float>& x,
                                         const std::vector<float>& y,
                                         const std::vector<double>& want, ErrorStats* s) {
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = want[i];
    const float wf = static_cast<float>(w);
    if (std::isnan(w) != std::isnan(y[i])) {
      return ::testing::AssertionFailure()
             << c.name << "(" << x[i] << ") = " << y[i] << ", want " << w;
    }
    if (std::isnan(w)) continue;
    if (std::isinf(wf) || std::isinf(y[i])) {  // overflow and the limits at +-inf: exactly
      if (y[i] != wf) {
        return ::testing::AssertionFailure()
               << c.name << "(" << x[i] << ") = " << y[i] << ", want " << wf;
      }
      continue;
    }
    if (y[i] == 0.0f && wf == 0.0f) {  // zeros (also underflow) with the right sign
      if (std::signbit(y[i]) != std::signbit(wf)) {
        return ::testing::AssertionFailure()
               << c.name << "(" << x[i] << ") = " << y[i] << ", want " << wf;
      }
      continue;
    }
    const double err = std::fabs(static_cast<double>(y[i]) - w) / ulp_at(w);
    const bool denormal = std::fabs(w) < FLT_MIN, tail = !denormal && x[i] < c.tail_below;
    double& worst = denormal ? s->worst_denormal : tail ? s->worst_tail : s->worst_ulp;
    float& at = denormal ? s->at_denormal : tail ? s->at_tail : s->at;
    if (err > worst) worst = err, at = x[i];
  }
  if (s->worst_ulp > c.max_ulp || s->worst_denormal > c.max_denormal ||
      s->worst_tail > c.tail_ulp) {
    return ::testing::AssertionFailure()
           << c.name << ": " << s->worst_ulp << " ulp at x = " << s->at << " (bound " << c.max_ulp
           << "), denormal " << s->worst_denormal << " at x = " << s->at_denormal << " (bound "
           << c.max_denormal << "), tail " << s->worst_tail << " at x = " << s->at_tail
           << " (bound " << c.tail_ulp << ")";
  }
  return ::testing::AssertionSuccess();
}

const std::vector<float>& sweep() {
  static const std::vector<float> x = whole_float_range();
  return x;
}

std::vector<double> exact_sweep(const Case& c) {
  const std::vector<float>& x = sweep();
  std::vector<double> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) v[i] = static_cast<double>(exact(c.p, x[i]));
  return v;
}

// Not a parameterised test: the exact values of one case (4.6 million) are computed once and
// checked under every ISA and thread count in turn.
TEST(ActivationFastSweep, ForwardWithinStatedUlpOverTheWholeFloatRangeUnderEveryIsa) {
  const Isa saved_cap = isa_cap();
  const int saved_threads = get_num_threads();
  const std::vector<float>& x = sweep();
  for (const Case& c : kCases) {
    const std::vector<double> want = exact_sweep(c);
    for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
      if (!cpu_supports(isa)) continue;
      ASSERT_EQ(set_isa_cap(isa), isa);
      for (int threads : {1, 3}) {
        set_num_threads(threads);
        std::vector<float> y(x.size(), 7.0f);
        activation_forward(c.p, static_cast<int64_t>(x.size()), x.data(), y.data());
        ErrorStats s;
        ASSERT_TRUE(within_bounds(c, x, y, want, &s)) << isa_name(isa) << ", " << threads;
        if (threads == 1) {
          std::printf(
              "  %-7s %-16s max error %.3f ulp (x = %.9g), denormal results %.1f x "
              "2^-149, tail %.1f ulp\n",
              isa_name(isa), c.name, s.worst_ulp, s.at, s.worst_denormal, s.worst_tail);
        }
      }
    }
  }
  set_isa_cap(saved_cap);
  set_num_threads(saved_threads);
}

TEST(ActivationRefTest, ReferenceIsCorrectlyRoundedOverTheWholeFloatRange) {
  const std::vector<float>& x = sweep();
  for (const Case& c : kCases) {
    std::vector<float> y(x.size(), 7.0f);
    activation_forward_ref(c.p, static_cast<int64_t>(x.size()), x.data(), y.data());
    // Rounded once from double (hard_sigmoid: PyTorch's float arithmetic, x + 3 rounded first).
    const double bound = c.p.op == ActivationOp::HardSigmoid ? 1.5 : 0.501;
    const Case tight{c.p, c.name, bound, 1.0, -kInf, 0};
    ErrorStats s;
    ASSERT_TRUE(within_bounds(tight, x, y, exact_sweep(c), &s));
  }
}

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0 || (std::isnan(a) && std::isnan(b));
}

// Inputs around every kink and tail, with special values mixed in.
std::vector<float> backward_inputs(int64_t n) {
  std::vector<float> x = random_vector(n, static_cast<uint32_t>(n) + 3, -25.0f, 25.0f);
  const float specials[] = {0.0f, -0.0f, std::nanf(""), kInf,    -kInf, 1e-40f, -1e-40f,
                            3.0f, -3.0f, 150.0f,        -150.0f, 0.3f,  -0.75f, -1.278f};
  constexpr int kSpecials = sizeof(specials) / sizeof(specials[0]);
  for (int64_t i = 0; i < n; i += 3) x[i] = specials[(i / 3) % kSpecials];
  return x;
}

TEST_P(ActivationFastTest, BackwardMatchesReference) {
  for (int64_t n : {0, 1, 7, 15, 17, 4096, 4097, 300001}) {
    const std::vector<float> x = backward_inputs(n);
    const std::vector<float> dy = random_vector(n, 99, -2.0f, 2.0f);
    for (const Case& c : kCases) {
      std::vector<float> dx_ref(n), dx(n, 5.0f);
      activation_backward_ref(c.p, n, x.data(), dy.data(), dx_ref.data());
      activation_backward(c.p, n, x.data(), dy.data(), dx.data());
      const bool bitwise = c.p.op == ActivationOp::LeakyRelu || c.p.op == ActivationOp::HardSigmoid;
      for (int64_t i = 0; i < n; ++i) {
        if (bitwise || !std::isfinite(dx_ref[i])) {
          ASSERT_TRUE(same_bits(dx[i], dx_ref[i]))
              << c.name << " n " << n << " x=" << x[i] << ": " << dx[i] << " vs " << dx_ref[i];
          continue;
        }
        // Cancellation where the derivative crosses 0 (gelu near -0.75, silu near -1.28)
        // leaves an absolute error of a few ulp of the terms, hence the atol.
        ASSERT_NEAR(dx[i], dx_ref[i], 1e-6f * std::fabs(dy[i]) + 1e-5f * std::fabs(dx_ref[i]))
            << c.name << " n " << n << " x=" << x[i];
      }
    }
  }
}

TEST_P(ActivationFastTest, ForwardBitForBitWherePromisedAndInPlace) {
  const int64_t n = 100003;
  const std::vector<float> x = backward_inputs(n);
  for (const Case& c : kCases) {
    std::vector<float> y_ref(n), y(n), in_place = x;
    activation_forward_ref(c.p, n, x.data(), y_ref.data());
    activation_forward(c.p, n, x.data(), y.data());
    activation_forward(c.p, n, in_place.data(), in_place.data());
    const bool bitwise = c.p.op == ActivationOp::LeakyRelu || c.p.op == ActivationOp::HardSigmoid;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(same_bits(in_place[i], y[i])) << c.name << " in place, x=" << x[i];
      if (bitwise) ASSERT_TRUE(same_bits(y[i], y_ref[i])) << c.name << " x=" << x[i];
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ActivationFastTest);

}  // namespace
