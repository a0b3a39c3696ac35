// conv + bias + activation + 2x2 average pool in one kernel (conv2d_forward_avgpool2x2, the
// inference plan's LeNet fusion) under every ISA and thread count: exactly the floats of the two
// fast steps, and close to the plain reference loops (conv2d_forward_ref, the activation in
// double, avg_pool2d_forward), on odd sizes, paddings, strides, several bands of rows, and layers
// that take Winograd (where the kernel runs the steps).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/pool/avg_pool2d.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, stride, pad;
};

std::vector<Case> cases() {
  return {
      {3, 1, 28, 28, 6, 5, 5, 1, 2},    // LeNet-5 conv 1 on 28x28
      {2, 6, 14, 14, 16, 5, 5, 1, 0},   // LeNet-5 conv 2 (register-blocked on AVX2)
      {1, 5, 13, 11, 20, 5, 5, 1, 1},   // LeNet-like, odd output (11x9), blocked on AVX2
      {2, 3, 11, 9, 5, 5, 5, 1, 1},     // odd output (7x5): a row and a column dropped
      {1, 3, 32, 32, 32, 7, 7, 1, 3},   // 7x7 on colour input (row tiles)
      {1, 32, 16, 16, 64, 5, 5, 1, 2},  // 5x5 'same' on 16x16 (row tiles)
      {2, 2, 3, 4, 3, 2, 2, 1, 0},      // 2x3 output: one window row
      {1, 4, 60, 62, 8, 3, 3, 1, 1},    // several bands of rows (C < 8: direct)
      {17, 9, 8, 8, 10, 3, 3, 1, 1},    // Winograd F(4x4) (blocks of images)
      {2, 16, 12, 10, 16, 3, 3, 1, 1},  // Winograd F(2x2)
      {2, 3, 17, 16, 4, 3, 3, 2, 1},    // stride 2
  };
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " stride " + std::to_string(c.stride) + " pad " +
         std::to_string(c.pad);
}

Pool2dGeometry pool_of(const Conv2dGeometry& g) {
  Pool2dGeometry pg{};
  pg.N = g.N, pg.C = g.K, pg.H = g.P, pg.W = g.Q, pg.P = g.P / 2, pg.Q = g.Q / 2;
  pg.kernel_h = pg.kernel_w = pg.stride_h = pg.stride_w = 2;
  return pg;
}

double activated(Activation act, double v) {
  switch (act) {
    case Activation::relu:
      return v > 0 ? v : 0;
    case Activation::sigmoid:
      return 1 / (1 + std::exp(-v));
    case Activation::tanh:
      return std::tanh(v);
    default:
      return v;
  }
}

class ConvAvgPoolTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvAvgPoolTest, EqualsTheStepsAndTheReference) {
  uint32_t seed = 3;
  for (const Case& c : cases()) {
    const Conv2dGeometry g = make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                                                  {c.stride, c.stride, c.pad, c.pad, c.pad, c.pad});
    const Pool2dGeometry pg = pool_of(g);
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> w = random_vector(c.K * c.C * c.R * c.S, seed + 1, -0.4f, 0.4f);
    const std::vector<float> b = random_vector(c.K, seed + 2);
    const size_t ny = pg.N * pg.C * pg.P * pg.Q;
    for (Activation act :
         {Activation::none, Activation::relu, Activation::sigmoid, Activation::tanh}) {
      for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> conv(g.N * g.K * g.P * g.Q), steps(ny, -5.0f), got(ny, 7.0f);
        conv2d_forward(g, x.data(), w.data(), bias, conv.data(), act);
        avg_pool2d_forward(pg, true, conv.data(), steps.data());
        conv2d_forward_avgpool2x2(g, x.data(), w.data(), bias, got.data(), act);
        const std::string what = describe(c) + " act " + std::to_string(static_cast<int>(act)) +
                                 (bias ? "" : " no bias");
        EXPECT_EQ(got, steps) << what;

        std::vector<float> ref(conv.size()), want(ny);
        conv2d_forward_ref(g, x.data(), w.data(), bias, ref.data());
        for (float& v : ref) v = static_cast<float>(activated(act, v));
        avg_pool2d_forward(pg, true, ref.data(), want.data());
        EXPECT_TRUE(all_close(got, want, 2e-5f * (c.C * c.R * c.S + 1))) << what;
      }
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvAvgPoolTest);

}  // namespace
