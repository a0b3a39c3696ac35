// The im2col forward on stacks of images (conv_stacked_impl.h: strided layers with small outputs,
// the all-convolutional net's 3x3 stride-2 layers) under every ISA and thread count: against the
// reference loops, and an image gets the same floats alone as in any batch (stacks of 1 to many
// images, a partial last stack).
#include <gtest/gtest.h>

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
  int64_t N, C, H, W, K, R, S, sh, sw, pad;
};

std::vector<Case> cases() {
  return {
      {37, 64, 8, 8, 128, 3, 3, 2, 2, 1},  // all-conv layer 3: 4x4 outputs, stacks + a partial one
      {9, 32, 16, 16, 64, 3, 3, 2, 2, 1},  // all-conv layer 2: 8x8 outputs
      {5, 3, 9, 7, 10, 3, 3, 2, 2, 1},     // odd sizes, K not a block multiple
      {6, 4, 6, 6, 7, 5, 5, 3, 2, 2},      // unequal strides, 5x5
      {4, 2, 3, 3, 5, 1, 1, 2, 2, 0},      // 1x1 stride 2: 2x2 outputs
  };
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " stride " + std::to_string(c.sh) + "," + std::to_string(c.sw);
}

class ConvStackedTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvStackedTest, MatchesTheReferenceAndEachImageAlone) {
  uint32_t seed = 11;
  for (const Case& c : cases()) {
    const Conv2dStridePadding sp{c.sh, c.sw, c.pad, c.pad, c.pad, c.pad};
    const Conv2dGeometry g = make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S}, sp);
    const std::vector<float> x = random_vector(c.N * c.C * c.H * c.W, seed += 10);
    const std::vector<float> w = random_vector(c.K * c.C * c.R * c.S, seed + 1, -0.3f, 0.3f);
    const std::vector<float> b = random_vector(c.K, seed + 2);
    const int64_t per_image = c.K * g.P * g.Q;
    std::vector<float> want(c.N * per_image), got(want.size(), 5.0f);
    conv2d_forward_ref(g, x.data(), w.data(), b.data(), want.data());
    conv2d_forward(g, x.data(), w.data(), b.data(), got.data(), Activation::none);
    EXPECT_TRUE(all_close(got, want, 2e-5f * (c.C * c.R * c.S + 1))) << describe(c);

    // Outputs of a few pixels take pixel-major dot products in batches too small to fill two
    // register tiles (at most 64 columns each) when stacked, and stacked columns from there: an
    // image gets the same floats in every batch of one kind, close ones across the two. A batch of
    // 16 with 8+ pixels per image is stacked like the whole batch; an image alone is stacked too
    // when its own pixels fill two tiles (3 P Q >= 2 * 64: never pixel-major).
    const int64_t PQ = g.P * g.Q;
    const auto same_kind_batch = [&](int64_t size) {
      return size == 1 ? 3 * PQ >= 128 : size * PQ >= 128;
    };
    for (int64_t size : {int64_t{1}, int64_t{16}}) {
      if (size > c.N) continue;
      const Conv2dGeometry sub =
          make_conv2d_geometry({size, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S}, sp);
      for (int64_t n : {int64_t{0}, (c.N - size) / 2, c.N - size}) {
        std::vector<float> part(size * per_image, -3.0f);
        conv2d_forward(sub, x.data() + n * c.C * c.H * c.W, w.data(), b.data(), part.data(),
                       Activation::none);
        const std::vector<float> in_batch(got.begin() + n * per_image,
                                          got.begin() + (n + size) * per_image);
        if (same_kind_batch(size)) {
          EXPECT_EQ(part, in_batch) << describe(c) << " images " << n << "+" << size;
        } else {
          EXPECT_TRUE(all_close(part, in_batch, 2e-5f * (c.C * c.R * c.S + 1)))
              << describe(c) << " images " << n << "+" << size;
        }
      }
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvStackedTest);

}  // namespace
