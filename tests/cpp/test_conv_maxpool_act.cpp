// conv + bias + activation + 2x2 max pool as one kernel (conv2d_forward_maxpool2x2), which pools
// first and activates only the pooled outputs, against the three steps (the conv with its fused
// activation on every output, then max_pool2d_forward_ref), bit for bit: for every activation of
// pool_commutes, under every ISA and thread count, on the direct, F(2x2) and F(4x4) paths, odd
// output sizes, and inputs with NaN, +-inf and values large enough to saturate tanh / sigmoid.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/pool/pool2d_ref.h"
#include "pocketcnn/error.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

class ConvMaxPoolActTest : public pocketcnn::testing::IsaThreadsTest {};

constexpr Activation kCommuting[] = {Activation::none, Activation::relu, Activation::sigmoid,
                                     Activation::tanh, Activation::hard_sigmoid};

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The first index where the two differ in their bits (NaN payloads and zero signs included).
// Bit for bit; with any_nan, a NaN matches any NaN: the sign and payload of a NaN made inside a
// conv's sum (inf - inf, NaN + x) follow the operand order the compiler picked, which differs
// between builds (the sanitizer build's -O1 gave -nan where -O3 gave nan).
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want,
                                     bool any_nan = false) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < got.size(); ++i) {
    if (any_nan && std::isnan(got[i]) && std::isnan(want[i])) continue;
    if (bits_of(got[i]) != bits_of(want[i])) {
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << " (0x" << std::hex << bits_of(got[i])
             << "), want " << want[i] << " (0x" << bits_of(want[i]) << ")" << std::dec;
    }
  }
  return ::testing::AssertionSuccess();
}

struct Case {
  int64_t N, C, H, W, K, R, S, pt, pl, pb, pr;
};

std::string describe(const Case& c, Activation act) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " act " + std::to_string(static_cast<int>(act));
}

std::vector<Case> cases() {
  return {
      {1, 1, 28, 28, 25, 3, 3, 0, 0, 0, 0},    // lecture conv 1 (direct), batch 1
      {3, 1, 28, 28, 25, 3, 3, 0, 0, 0, 0},    // batch 3
      {1, 25, 13, 13, 50, 3, 3, 0, 0, 0, 0},   // lecture conv 2: F(2x2), odd 11x11 output
      {17, 25, 13, 13, 50, 3, 3, 0, 0, 0, 0},  // F(4x4) blocks of 8 / 16 images + a left-over
      {2, 9, 8, 10, 10, 3, 3, 1, 1, 1, 1},     // F(2x2) with padding, even output
      {9, 9, 9, 7, 10, 3, 3, 0, 1, 0, 1},      // odd P (7), F(4x4) on AVX2
      {2, 3, 12, 11, 6, 5, 5, 2, 2, 2, 2},     // 5x5 direct, odd Q
      {2, 6, 14, 14, 16, 5, 5, 0, 0, 0, 0},    // LeNet-5 conv 2: register-blocked on AVX2
      {1, 5, 13, 11, 20, 5, 5, 1, 0, 0, 1},    // LeNet-like, odd P and Q
      {2, 2, 7, 9, 3, 1, 1, 0, 0, 0, 0},       // 1x1, odd P and Q
      {1, 4, 4, 5, 3, 3, 3, 0, 0, 0, 0},       // a 2x3 output: one window per row
  };
}

struct Data {
  Conv2dGeometry g;
  std::vector<float> x, w, b;
};

Data make_data(const Case& c, uint32_t seed, bool specials) {
  Data d;
  d.g = make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                             {1, 1, c.pt, c.pl, c.pb, c.pr});
  d.x = random_vector(c.N * c.C * c.H * c.W, seed, -2.0f, 2.0f);
  d.w = random_vector(c.K * c.C * c.R * c.S, seed + 1, -1.0f, 1.0f);
  d.b = random_vector(c.K, seed + 2, -1.0f, 1.0f);
  if (specials) {
    // Saturating tanh / sigmoid / hard_sigmoid (ties of the activated window), infinities and
    // NaNs (payloads included: the pool keeps the window's first) in a few places per image.
    const float vals[] = {40.0f,
                          -40.0f,
                          1e30f,
                          -1e30f,
                          INFINITY,
                          -INFINITY,
                          std::nanf(""),
                          from_bits(0x7fc01234u),
                          from_bits(0xffc00077u),
                          1e-40f};
    const int64_t image = c.C * c.H * c.W;
    for (int64_t n = 0; n < c.N; ++n) {
      for (int k = 0; k < 10; ++k) {
        const int64_t at = (n * 7919 + k * 104729) % image;
        d.x[n * image + at] = vals[(n + k) % 10];
      }
    }
  }
  return d;
}

// The three steps: conv with act on every output, then the reference 2x2 max pool.
std::vector<float> steps(const Data& d, const float* b, Activation act) {
  const Conv2dGeometry& g = d.g;
  std::vector<float> y(g.N * g.K * g.P * g.Q);
  conv2d_forward(g, d.x.data(), d.w.data(), b, y.data(), act);
  Pool2dGeometry pg{};
  pg.N = g.N, pg.C = g.K, pg.H = g.P, pg.W = g.Q, pg.kernel_h = pg.kernel_w = 2;
  pg.stride_h = pg.stride_w = 2, pg.P = g.P / 2, pg.Q = g.Q / 2;
  std::vector<float> want(pg.N * pg.C * pg.P * pg.Q);
  max_pool2d_forward_ref(pg, y.data(), want.data(), nullptr);
  return want;
}

std::vector<float> fused(const Data& d, const float* b, Activation act) {
  const Conv2dGeometry& g = d.g;
  std::vector<float> got(g.N * g.K * (g.P / 2) * (g.Q / 2), 777.0f);
  conv2d_forward_maxpool2x2(g, d.x.data(), d.w.data(), b, got.data(), act);
  return got;
}

TEST_P(ConvMaxPoolActTest, PoolFirstEqualsTheStepsBitForBit) {
  uint32_t seed = 100;
  for (const Case& c : cases()) {
    for (const bool specials : {false, true}) {
      const Data d = make_data(c, seed += 10, specials);
      for (const Activation act : kCommuting) {
        for (const float* b : {d.b.data(), static_cast<const float*>(nullptr)}) {
          const std::vector<float> want = steps(d, b, act);
          EXPECT_TRUE(same_bits(fused(d, b, act), want, specials))
              << describe(c, act) << (specials ? " specials" : "") << (b ? "" : " no bias");
        }
      }
    }
  }
}

TEST_P(ConvMaxPoolActTest, SpecialValuesReachThePool) {
  // A 1x1 conv with weight 1 and bias 0 passes x through exactly (x * 1 + 0), so the pool and
  // the activation see every special value as it is: windows of NaNs (two payloads: the first
  // wins), infinities, saturating values, exact ties, denormals.
  const float q1 = from_bits(0x7fc00abcu), q2 = from_bits(0xffc00def);
  const float vals[] = {q1,     q2,      INFINITY, -INFINITY, 1e30f,  -1e30f,  20.0f, -20.0f,
                        100.0f, -100.0f, 3.0f,     -3.0f,     1e-40f, -1e-40f, 0.5f,  -0.5f};
  const int64_t H = 8, W = 32;  // every 4-window of vals, in several orders
  Data d;
  d.g = make_conv2d_geometry({1, 1, H, W}, {1, 1, 1, 1}, {1, 1, 0, 0, 0, 0});
  d.w = {1.0f};
  d.b = {0.0f};
  d.x.resize(H * W);
  for (int64_t i = 0; i < H * W; ++i) d.x[i] = vals[(i * 7 + i / W * 3) % 16];
  for (const Activation act : kCommuting) {
    const std::vector<float> want = steps(d, d.b.data(), act);
    const std::vector<float> got = fused(d, d.b.data(), act);
    EXPECT_TRUE(same_bits(got, want)) << "act " << static_cast<int>(act);
    int nans = 0;
    for (float v : want) nans += std::isnan(v);
    EXPECT_GT(nans, 0) << "the test must have NaN windows";
  }
}

TEST_P(ConvMaxPoolActTest, RejectsActivationsThatDoNotCommute) {
  const Data d = make_data({1, 1, 6, 6, 2, 3, 3, 0, 0, 0, 0}, 1, false);
  for (const Activation act : {Activation::leaky_relu, Activation::elu, Activation::gelu,
                               Activation::gelu_tanh, Activation::silu, Activation::softplus}) {
    EXPECT_FALSE(pool_commutes(act));
    EXPECT_THROW(fused(d, d.b.data(), act), ValueError) << static_cast<int>(act);
  }
  for (const Activation act : kCommuting) EXPECT_TRUE(pool_commutes(act));
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvMaxPoolActTest);

}  // namespace
