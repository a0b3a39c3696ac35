// The weight gradient of strided convolutions with many output pixels per image (the offset GEMM
// on phase planes, conv_wgrad_strided_impl.h: from 1024 pixels) under every ISA and thread count,
// against the reference loops: the 7x7 stride-2 stem, unequal strides with a non-square kernel
// and asymmetric padding, a stride larger than the kernel (phases no tap reaches), one image
// (threads inside the GEMM) and more images than threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, sh, sw, pt, pl, pb, pr;
};

std::vector<Case> cases() {
  return {
      {2, 3, 67, 66, 5, 7, 7, 2, 2, 3, 3, 3, 3},   // stem-like: 34 x 33 outputs
      {3, 2, 100, 91, 4, 5, 4, 2, 3, 2, 1, 0, 2},  // unequal strides, non-square, asymmetric pad
      {1, 2, 99, 100, 3, 2, 2, 3, 3, 0, 0, 0, 0},  // stride 3 > kernel 2, one image
      {5, 1, 64, 64, 6, 3, 3, 2, 2, 1, 1, 1, 1},   // more images than threads, 32 x 32
  };
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " stride " + std::to_string(c.sh) + "," + std::to_string(c.sw);
}

class ConvWgradStridedTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvWgradStridedTest, MatchesTheReference) {
  uint32_t seed = 31;
  for (const Case& c : cases()) {
    const Conv2dStridePadding sp{c.sh, c.sw, c.pt, c.pl, c.pb, c.pr};
    const Conv2dGeometry g = make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S}, sp);
    ASSERT_GE(g.P * g.Q, 1024) << describe(c) << ": too few pixels for the phase-plane path";
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> dy = random_vector(c.N * c.K * g.P * g.Q, seed + 3);
    std::vector<float> want_w(c.K * c.C * c.R * c.S), want_b(c.K);
    conv2d_backward_weight_ref(g, x.data(), dy.data(), want_w.data(), want_b.data());
    const float tol = 2e-5f * (c.N * g.P * g.Q + 1);
    std::vector<float> dw(want_w.size(), 123.0f), db(c.K, 123.0f);
    conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data());
    EXPECT_TRUE(all_close(dw, want_w, tol)) << describe(c);
    EXPECT_TRUE(all_close(db, want_b, tol)) << describe(c);
    std::fill(dw.begin(), dw.end(), 123.0f);
    conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), nullptr);
    EXPECT_TRUE(all_close(dw, want_w, tol)) << describe(c) << " (db null)";
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvWgradStridedTest);

}  // namespace
