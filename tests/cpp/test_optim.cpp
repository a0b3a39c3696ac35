// Optimiser updates against the formulas written out in double precision, step by step.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "pocketcnn/error.h"
#include "pocketcnn/optim.h"

using namespace pocketcnn;

namespace {

Tensor vec(const std::vector<float>& v) {
  return Tensor::from_vector({static_cast<int64_t>(v.size())}, v);
}

std::vector<float> values(const Tensor& t) {
  return {t.data(), t.data() + t.numel()};
}

// torch.optim.SGD for one parameter vector, in double.
struct SgdRef {
  std::vector<double> p, buf;
  double lr, mu, damp, wd;
  bool nesterov;
  bool first = true;
  void step(const std::vector<float>& grad) {
    if (buf.empty()) buf.assign(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      double d = grad[i] + wd * p[i];
      if (mu != 0) {
        buf[i] = first ? d : mu * buf[i] + (1 - damp) * d;
        d = nesterov ? d + mu * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
    first = false;
  }
};

// torch.optim.Adam / AdamW for one parameter vector, in double.
struct AdamRef {
  std::vector<double> p, m, v;
  double lr, b1, b2, eps, wd;
  bool decoupled;
  int step = 0;
  void update(const std::vector<float>& grad) {
    ++step;
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (decoupled) {
        p[i] *= 1 - lr * wd;
      } else {
        g += wd * p[i];
      }
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double mhat = m[i] / (1 - std::pow(b1, step));
      const double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, step)) + eps;
      p[i] -= lr * mhat / denom;
    }
  }
};

const std::vector<std::vector<float>> kGrads = {
    {0.5f, -1.0f, 2.0f, 0.0f}, {-0.25f, 0.75f, 1.5f, -3.0f}, {1.0f, 1.0f, -2.0f, 0.125f}};
const std::vector<float> kInit = {1.0f, -2.0f, 0.5f, 3.0f};

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

}  // namespace

TEST(Optim, PlainSgdIsParamMinusLrTimesGrad) {
  Tensor p = vec({1.0f, 2.0f}), g = vec({0.5f, -4.0f});
  sgd_update(p, g, Tensor(), SgdOptions{0.1f}, true);
  expect_close(values(p), {0.95, 2.4}, 1e-6);
}

struct SgdCase {
  float mu, damp, wd;
  bool nesterov;
};

class SgdFormula : public ::testing::TestWithParam<SgdCase> {};

TEST_P(SgdFormula, MatchesTorchFormulaOverSeveralSteps) {
  const SgdCase c = GetParam();
  SgdOptions opt{0.05f, c.mu, c.damp, c.wd, c.nesterov};
  Tensor p = vec(kInit), buf = Tensor::zeros({4});
  SgdRef ref{{kInit.begin(), kInit.end()}, {}, 0.05, c.mu, c.damp, c.wd, c.nesterov};
  bool first = true;
  for (const auto& g : kGrads) {
    sgd_update(p, vec(g), buf, opt, first);
    ref.step(g);
    first = false;
    expect_close(values(p), ref.p, 1e-5);
    if (c.mu != 0) expect_close(values(buf), ref.buf, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, SgdFormula,
                         ::testing::Values(SgdCase{0, 0, 0, false}, SgdCase{0.9f, 0, 0, false},
                                           SgdCase{0.9f, 0.1f, 0, false}, SgdCase{0.9f, 0, 0, true},
                                           SgdCase{0, 0, 0.01f, false},
                                           SgdCase{0.8f, 0, 0.05f, true}));

TEST(Optim, SgdMomentumFirstStepCopiesTheGradientIntoTheBuffer) {
  Tensor p = vec({0.0f}), buf = vec({123.0f});  // stale content must be ignored on step 1
  sgd_update(p, vec({2.0f}), buf, SgdOptions{1.0f, 0.9f, 0.5f}, true);
  EXPECT_FLOAT_EQ(buf.data()[0], 2.0f);  // no dampening on the first step, like PyTorch
  EXPECT_FLOAT_EQ(p.data()[0], -2.0f);
}

struct AdamCase {
  float wd;
  bool decoupled;
};

class AdamFormula : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamFormula, MatchesTorchFormulaOverSeveralSteps) {
  const AdamCase c = GetParam();
  AdamOptions opt{0.01f, 0.9f, 0.999f, 1e-8f, c.wd, c.decoupled};
  Tensor p = vec(kInit), m = Tensor::zeros({4}), v = Tensor::zeros({4});
  AdamRef ref{{kInit.begin(), kInit.end()}, {}, {}, 0.01, 0.9, 0.999, 1e-8, c.wd, c.decoupled};
  int64_t step = 0;
  for (const auto& g : kGrads) {
    adam_update(p, vec(g), m, v, ++step, opt);
    ref.update(g);
    expect_close(values(p), ref.p, 1e-5);
    expect_close(values(m), ref.m, 1e-6);
    expect_close(values(v), ref.v, 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, AdamFormula,
                         ::testing::Values(AdamCase{0, false}, AdamCase{0.1f, false},
                                           AdamCase{0.1f, true}));

TEST(Optim, AdamFirstStepMovesEachWeightByAboutLr) {
  // After bias correction the first step is lr * g / (|g| + eps): about lr against the sign.
  Tensor p = vec({0.0f, 0.0f}), m = Tensor::zeros({2}), v = Tensor::zeros({2});
  adam_update(p, vec({3.0f, -0.001f}), m, v, 1, AdamOptions{0.01f});
  EXPECT_NEAR(p.data()[0], -0.01f, 1e-6);
  EXPECT_NEAR(p.data()[1], 0.01f, 1e-6);
}

TEST(Optim, BadArgumentsThrowValueErrorsNamingThem) {
  Tensor p = vec({1.0f, 2.0f}), g3 = vec({1.0f, 2.0f, 3.0f}), z = Tensor::zeros({2});
  EXPECT_THROW(sgd_update(p, g3, Tensor(), SgdOptions{0.1f}, true), ValueError);
  EXPECT_THROW(sgd_update(p, z, Tensor(), SgdOptions{0.1f, 0.9f}, true), TypeError);
  EXPECT_THROW(sgd_update(p, z, z.clone(), SgdOptions{0.1f, 0.0f, 0.0f, 0.0f, true}, true),
               ValueError);
  EXPECT_THROW(sgd_update(p, z, Tensor(), SgdOptions{-1.0f}, true), ValueError);
  EXPECT_THROW(adam_update(p, z, z.clone(), z.clone(), 0, AdamOptions{}), ValueError);
  EXPECT_THROW(adam_update(p, z, g3, z.clone(), 1, AdamOptions{}), ValueError);
  AdamOptions bad_beta;
  bad_beta.beta1 = 1.0f;
  EXPECT_THROW(adam_update(p, z, z.clone(), z.clone(), 1, bad_beta), ValueError);
  try {
    sgd_update(p, g3, Tensor(), SgdOptions{0.1f}, true);
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("(3,)"), std::string::npos) << e.what();
  }
}

TEST(Optim, SumOfSquaresAndScale) {
  Tensor a = vec({3.0f, 4.0f}), b = vec({12.0f});
  EXPECT_DOUBLE_EQ(sum_of_squares({a, b}), 169.0);
  scale_in_place(a, 0.5f);
  EXPECT_FLOAT_EQ(a.data()[1], 2.0f);
}
