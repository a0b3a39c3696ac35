#include "kernels/pointwise/activation_ref.h"

#include <cmath>
#include <limits>

namespace pocketcnn::kernels {

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;     // 1 / sqrt 2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluTanhCubic = 0.044715;

double sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// Phi(x), the standard normal CDF, through erfc: accurate in both tails (1 + erf(x / sqrt 2)
// cancels to nothing for x < -5).
double normal_cdf(double x) {
  return 0.5 * std::erfc(-x * kSqrtHalf);
}

// The argument of the tanh-form gelu's sigmoid: 2 sqrt(2/pi) (x + 0.044715 x^3), since
// (1 + tanh(u)) / 2 = sigmoid(2u) (which does not cancel for negative u).
double gelu_tanh_arg(double x) {
  return 2.0 * kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
}

// The products x * f(x) whose factor vanishes at -inf (gelu, silu) have the limit -0 there.
double times_vanishing(double x, double f) {
  return x == -std::numeric_limits<double>::infinity() ? -0.0 : x * f;
}

double forward(const ActivationParams& p, float xf) {
  const double x = xf, a = p.alpha;
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return x > 0 ? x : a * x;
    case ActivationOp::Elu:
      return x > 0 ? x : a * std::expm1(x);
    case ActivationOp::Gelu:
      return times_vanishing(x, normal_cdf(x));
    case ActivationOp::GeluTanh:
      return times_vanishing(x, sigmoid(gelu_tanh_arg(x)));
    case ActivationOp::Silu:
      return times_vanishing(x, sigmoid(x));
    case ActivationOp::HardSigmoid: {
      // In float, as PyTorch's kernel: min(max(x + 3, 0), 6) / 6 (NaN stays NaN).
      float v = xf + 3.0f;
      v = v < 0.0f ? 0.0f : v;
      v = v > 6.0f ? 6.0f : v;
      return v / 6.0f;
    }
    case ActivationOp::Softplus:
      return (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x)));  // NaN: through exp
  }
  return x;
}

// f(x) at +-inf, where f(x) = s + x * (something vanishing) would give inf * 0.
double slope_at_infinity(double x) {
  return x > 0 ? 1.0 : 0.0;
}

double derivative(const ActivationParams& p, float xf) {
  const double x = xf, a = p.alpha;
  switch (p.op) {
    case ActivationOp::LeakyRelu:
      return x > 0 ? 1.0 : a;
    case ActivationOp::Elu:
      return x > 0 ? 1.0 : a * std::exp(x);
    case ActivationOp::Gelu:
      if (std::isinf(x)) return slope_at_infinity(x);
      return normal_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
    case ActivationOp::GeluTanh: {
      if (std::isinf(x)) return slope_at_infinity(x);
      const double s = sigmoid(gelu_tanh_arg(x));
      const double du = 2.0 * kSqrt2OverPi * (1.0 + 3.0 * kGeluTanhCubic * x * x);
      return s + x * s * (1.0 - s) * du;
    }
    case ActivationOp::Silu: {
      if (std::isinf(x)) return slope_at_infinity(x);
      const double s = sigmoid(x);
      return s * (1.0 + x * (1.0 - s));
    }
    case ActivationOp::HardSigmoid:
      return (x > -3.0 && x < 3.0) ? 1.0 / 6.0 : 0.0;
    case ActivationOp::Softplus:
      return sigmoid(x);
  }
  return 1.0;
}

}  // namespace

void activation_forward_ref(const ActivationParams& p, int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(forward(p, x[i]));
}

void activation_backward_ref(const ActivationParams& p, int64_t n, const float* x, const float* dy,
                             float* dx) {
  if (p.op == ActivationOp::HardSigmoid) {  // in float, as PyTorch: dy * (1/6) inside (-3, 3)
    for (int64_t i = 0; i < n; ++i) {
      dx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? dy[i] * (1.0f / 6.0f) : 0.0f;
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    dx[i] = static_cast<float>(static_cast<double>(dy[i]) * derivative(p, x[i]));
  }
}

}  // namespace pocketcnn::kernels
