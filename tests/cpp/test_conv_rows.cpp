// Row tiles of the stride-1 direct convolution (conv_rows_impl.h: output rows in whole vectors,
// taken where they compute fewer columns than the wide rows, e.g. 5x5 / 7x7 'same' on 16x16 and
// 32x32) under every ISA and thread count: the forward against the reference loops, the fused
// 2x2 max pool against the two steps bit for bit, and the input gradient (which runs the same
// correlation on dy) against its reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/pool/pool2d_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, pad;
};

std::vector<Case> cases() {
  return {
      {2, 32, 16, 16, 64, 5, 5, 2},  // colour net conv 2 (5x5 'same' on 16x16)
      {2, 32, 16, 16, 64, 7, 7, 3},  // colour net conv 2 (7x7)
      {2, 3, 32, 32, 32, 7, 7, 3},   // colour net conv 1 (7x7 on RGB)
      {3, 3, 32, 32, 10, 5, 5, 2},   // K with a remainder block
      {2, 2, 8, 8, 6, 5, 5, 2},      // one vector per row on AVX2
      {1, 16, 64, 48, 7, 5, 5, 2},   // several bands of rows, odd K
      {2, 4, 15, 15, 9, 3, 3, 1},    // 15 columns: a vector per row with one junk lane
  };
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " pad " + std::to_string(c.pad);
}

class ConvRowsTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvRowsTest, ForwardPoolAndInputGradientMatch) {
  uint32_t seed = 21;
  for (const Case& c : cases()) {
    const Conv2dGeometry g = make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                                                  {1, 1, c.pad, c.pad, c.pad, c.pad});
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> w = random_vector(c.K * c.C * c.R * c.S, seed + 1, -0.3f, 0.3f);
    const std::vector<float> b = random_vector(c.K, seed + 2);
    const float tol = 2e-5f * (c.C * c.R * c.S + 1);
    std::vector<float> want(c.N * c.K * g.P * g.Q), got(want.size(), 5.0f);
    conv2d_forward_ref(g, x.data(), w.data(), b.data(), want.data());
    conv2d_forward(g, x.data(), w.data(), b.data(), got.data(), Activation::relu);
    for (float& v : want) v = std::max(v, 0.0f);
    EXPECT_TRUE(all_close(got, want, tol)) << describe(c);

    Pool2dGeometry pg{};
    pg.N = g.N, pg.C = g.K, pg.H = g.P, pg.W = g.Q, pg.P = g.P / 2, pg.Q = g.Q / 2;
    pg.kernel_h = pg.kernel_w = pg.stride_h = pg.stride_w = 2;
    std::vector<float> steps(pg.N * pg.C * pg.P * pg.Q), fused(steps.size(), -1.0f);
    max_pool2d_forward_ref(pg, got.data(), steps.data(), nullptr);
    conv2d_forward_maxpool2x2(g, x.data(), w.data(), b.data(), fused.data(), Activation::relu);
    EXPECT_EQ(fused, steps) << describe(c) << " (fused max pool)";

    const std::vector<float> dy = random_vector(want.size(), seed + 3);
    std::vector<float> dx_want(x.size()), dx(x.size(), 3.0f);
    conv2d_backward_input_ref(g, dy.data(), w.data(), dx_want.data());
    conv2d_backward_input(g, dy.data(), w.data(), dx.data());
    EXPECT_TRUE(all_close(dx, dx_want, 2e-5f * (c.K * c.R * c.S + 1))) << describe(c) << " dx";
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvRowsTest);

}  // namespace
