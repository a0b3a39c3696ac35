// 1x1 convolutions without padding (conv_pointwise_impl.h: one GEMM per image on NCHW, stride > 1
// through a subsampled copy) under every ISA and thread count, against the reference loops:
// forward (bias, no bias, fused ReLU), input gradient (every pixel a strided layer skips gets 0),
// weight gradient, and both gradients in one call. Shapes: the suite's conv1x1 layers, ResNet's
// stride-2 shortcut, odd sizes, K and C not block multiples, rows narrower and wider than a
// vector, bottom/right padding that adds no output, and a batch smaller than the thread count.
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
  int64_t N, C, H, W, K, sh, sw, pad_bottom, pad_right;
};

std::vector<Case> cases() {
  return {
      {3, 32, 16, 16, 64, 1, 1, 0, 0},  // conv1x1 network: 32 -> 64 on 16x16
      {2, 64, 8, 8, 16, 1, 1, 0, 0},    // 64 -> 16 on 8x8
      {1, 5, 7, 9, 11, 1, 1, 0, 0},     // one image (threads inside the GEMM), odd sizes
      {3, 16, 16, 16, 32, 2, 2, 0, 0},  // ResNet's stride-2 shortcut
      {2, 7, 9, 11, 13, 2, 2, 1, 1},    // odd input: padding that adds no output row/column
      {2, 3, 10, 37, 6, 2, 3, 0, 0},    // unequal strides, rows wider than a vector
      {2, 4, 5, 40, 9, 1, 2, 0, 0},     // stride on one axis only
      {4, 1, 6, 6, 1, 2, 1, 0, 0},      // one channel in and out
  };
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " stride " + std::to_string(c.sh) +
         "," + std::to_string(c.sw) + " pad " + std::to_string(c.pad_bottom) + "," +
         std::to_string(c.pad_right);
}

Conv2dGeometry geometry(const Case& c) {
  const Conv2dStridePadding sp{c.sh, c.sw, 0, 0, c.pad_bottom, c.pad_right};
  return make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, 1, 1}, sp);
}

class ConvPointwiseTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvPointwiseTest, ForwardMatchesTheReference) {
  uint32_t seed = 21;
  for (const Case& c : cases()) {
    const Conv2dGeometry g = geometry(c);
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> w = random_vector(c.K * c.C, seed + 1);
    const std::vector<float> b = random_vector(c.K, seed + 2);
    const size_t ny = c.N * c.K * g.P * g.Q;
    for (int variant = 0; variant < 3; ++variant) {  // bias, no bias, bias + fused ReLU
      const float* bias = variant == 1 ? nullptr : b.data();
      std::vector<float> want(ny), got(ny, 123.0f);
      conv2d_forward_ref(g, x.data(), w.data(), bias, want.data());
      if (variant == 2) {
        for (float& v : want) v = std::max(v, 0.0f);
      }
      conv2d_forward(g, x.data(), w.data(), bias, got.data(),
                     variant == 2 ? Activation::relu : Activation::none);
      EXPECT_TRUE(all_close(got, want, 2e-5f * (c.C + 1))) << describe(c) << " variant " << variant;
    }
  }
}

TEST_P(ConvPointwiseTest, GradientsMatchTheReference) {
  uint32_t seed = 22;
  for (const Case& c : cases()) {
    const Conv2dGeometry g = geometry(c);
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> w = random_vector(c.K * c.C, seed + 1);
    const std::vector<float> dy = random_vector(c.N * c.K * g.P * g.Q, seed + 3);
    std::vector<float> want_x(x.size()), want_w(w.size()), want_b(c.K);
    conv2d_backward_input_ref(g, dy.data(), w.data(), want_x.data());
    conv2d_backward_weight_ref(g, x.data(), dy.data(), want_w.data(), want_b.data());
    const float xtol = 2e-5f * (c.K + 1), wtol = 2e-5f * (c.N * g.P * g.Q + 1);

    std::vector<float> dx(x.size(), 123.0f);  // stale values: every pixel must be written
    conv2d_backward_input(g, dy.data(), w.data(), dx.data());
    EXPECT_TRUE(all_close(dx, want_x, xtol)) << describe(c) << " input gradient";

    std::vector<float> dw(w.size(), 123.0f), db(c.K, 123.0f);
    conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data());
    EXPECT_TRUE(all_close(dw, want_w, wtol)) << describe(c) << " weight gradient";
    EXPECT_TRUE(all_close(db, want_b, wtol)) << describe(c) << " bias gradient";

    std::fill(dx.begin(), dx.end(), 123.0f);
    std::fill(dw.begin(), dw.end(), 123.0f);
    conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    EXPECT_TRUE(all_close(dx, want_x, xtol)) << describe(c) << " both: input gradient";
    EXPECT_TRUE(all_close(dw, want_w, wtol)) << describe(c) << " both: weight gradient";
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvPointwiseTest);

}  // namespace
