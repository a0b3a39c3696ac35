// The fast 3x3 depthwise kernels (kernels/depthwise/depthwise3x3.h) against the plain grouped-conv
// loops (kernels/conv/conv_grouped.h) under every ISA and thread count: forward, input gradient,
// weight and bias gradients, for strides 1 and 2 in each direction, 'same' / 'valid' / wider
// padding, depth multipliers 1 and 3, widths below, at and above every vector width. Also: which
// geometries the fast path takes, and results that do not depend on the thread count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv_grouped.h"
#include "kernels/depthwise/depthwise3x3.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class DepthwiseFastTest : public pocketcnn::testing::IsaThreadsTest {};

// N, C, H, W, multiplier, strides, pads (top, bottom, left, right).
GroupedConvGeometry depthwise(int64_t N, int64_t C, int64_t H, int64_t W, int64_t mult, int64_t sh,
                              int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr) {
  GroupedConvGeometry g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.K = C * mult, g.R = 3, g.S = 3;
  g.stride_h = sh, g.stride_w = sw, g.pad_top = pt, g.pad_left = pl;
  g.dilation_h = 1, g.dilation_w = 1, g.groups = C;
  g.P = (H + pt + pb - 3) / sh + 1;
  g.Q = (W + pl + pr - 3) / sw + 1;
  return g;
}

std::vector<GroupedConvGeometry> shapes() {
  std::vector<GroupedConvGeometry> out;
  const int64_t sizes[][2] = {{3, 3}, {5, 7}, {8, 16}, {11, 17}, {28, 28}, {9, 33}};
  for (const auto& hw : sizes) {
    const int64_t H = hw[0], W = hw[1];
    out.push_back(depthwise(2, 3, H, W, 1, 1, 1, 1, 1, 1, 1));  // 'same', stride 1
    out.push_back(depthwise(1, 2, H, W, 3, 1, 1, 0, 0, 0, 0));  // 'valid', multiplier 3
    // 'same' at stride 2: TensorFlow pads the odd row/column at the bottom/right.
    out.push_back(depthwise(2, 3, H, W, 1, 2, 2, H % 2, 1, W % 2, 1));
    out.push_back(depthwise(1, 4, H, W, 2, 2, 1, 1, 1, 0, 2));  // mixed strides, pad 2
    out.push_back(depthwise(2, 2, H, W, 1, 1, 2, 2, 2, 1, 0));
    if (H >= 4 && W >= 4) out.push_back(depthwise(1, 3, H, W, 1, 2, 2, 0, 0, 0, 0));
  }
  return out;
}

std::string describe(const GroupedConvGeometry& g) {
  return "N " + std::to_string(g.N) + " C " + std::to_string(g.C) + " K " + std::to_string(g.K) +
         " H " + std::to_string(g.H) + " W " + std::to_string(g.W) + " stride " +
         std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) + " pad " +
         std::to_string(g.pad_top) + "," + std::to_string(g.pad_left) + " P " +
         std::to_string(g.P) + " Q " + std::to_string(g.Q);
}

size_t input_size(const GroupedConvGeometry& g) {
  return static_cast<size_t>(g.N * g.C * g.H * g.W);
}
size_t output_size(const GroupedConvGeometry& g) {
  return static_cast<size_t>(g.N * g.K * g.P * g.Q);
}

TEST(DepthwiseApplies, TakesOnlyTheGeometriesItHandles) {
  EXPECT_TRUE(depthwise3x3_applies(depthwise(1, 4, 8, 8, 1, 1, 1, 1, 1, 1, 1)));
  EXPECT_TRUE(depthwise3x3_applies(depthwise(1, 4, 8, 8, 2, 2, 2, 0, 1, 0, 1)));
  GroupedConvGeometry g = depthwise(1, 4, 8, 8, 1, 1, 1, 1, 1, 1, 1);
  g.groups = 2;  // not depthwise
  EXPECT_FALSE(depthwise3x3_applies(g));
  g = depthwise(1, 4, 8, 8, 1, 3, 3, 1, 1, 1, 1);  // stride 3
  EXPECT_FALSE(depthwise3x3_applies(g));
  g = depthwise(1, 4, 8, 8, 1, 1, 1, 3, 3, 3, 3);  // padding 3
  EXPECT_FALSE(depthwise3x3_applies(g));
  g = depthwise(1, 4, 8, 8, 1, 1, 1, 1, 1, 1, 1);
  g.dilation_h = 2, g.P = 6;
  EXPECT_FALSE(depthwise3x3_applies(g));
  g = depthwise(1, 4, 8, 8, 1, 1, 1, 1, 1, 1, 1);
  g.R = g.S = 5, g.P = g.Q = 6;
  EXPECT_FALSE(depthwise3x3_applies(g));
}

TEST_P(DepthwiseFastTest, ForwardMatchesReference) {
  for (const GroupedConvGeometry& g : shapes()) {
    ASSERT_TRUE(depthwise3x3_applies(g)) << describe(g);
    const std::vector<float> x = random_vector(input_size(g), 1);
    const std::vector<float> w = random_vector(static_cast<size_t>(g.K * 9), 2);
    const std::vector<float> b = random_vector(static_cast<size_t>(g.K), 3);
    for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> y(output_size(g), 7.0f), y_ref(output_size(g));
      depthwise3x3_forward(g, x.data(), w.data(), bias, y.data());
      grouped_conv2d_forward(g, x.data(), w.data(), bias, y_ref.data());
      EXPECT_TRUE(all_close(y, y_ref, 1e-5f)) << describe(g);
    }
  }
}

TEST_P(DepthwiseFastTest, BackwardMatchesReference) {
  for (const GroupedConvGeometry& g : shapes()) {
    const std::vector<float> x = random_vector(input_size(g), 4);
    const std::vector<float> w = random_vector(static_cast<size_t>(g.K * 9), 5);
    const std::vector<float> dy = random_vector(output_size(g), 6);
    const size_t nw = static_cast<size_t>(g.K * 9), nb = static_cast<size_t>(g.K);
    std::vector<float> dx(input_size(g), 9.0f), dw(nw, 9.0f), db(nb, 9.0f);
    std::vector<float> dx_ref(input_size(g)), dw_ref(nw), db_ref(nb);
    depthwise3x3_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    grouped_conv2d_backward(g, x.data(), w.data(), dy.data(), dx_ref.data(), dw_ref.data(),
                            db_ref.data());
    const float tol = 1e-5f * static_cast<float>(g.N * g.P * g.Q);
    EXPECT_TRUE(all_close(dx, dx_ref, 1e-5f)) << describe(g);
    EXPECT_TRUE(all_close(dw, dw_ref, tol)) << describe(g);
    EXPECT_TRUE(all_close(db, db_ref, tol)) << describe(g);
    // Each gradient alone (the others null) is the same.
    std::vector<float> dw_only(nw, 9.0f), dx_only(input_size(g), 9.0f);
    depthwise3x3_backward(g, x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr);
    depthwise3x3_backward(g, x.data(), w.data(), dy.data(), dx_only.data(), nullptr, nullptr);
    EXPECT_EQ(dw_only, dw);
    EXPECT_EQ(dx_only, dx);
  }
}

TEST_P(DepthwiseFastTest, ResultsDoNotDependOnTheThreadCount) {
  const GroupedConvGeometry g = depthwise(8, 16, 28, 28, 2, 2, 2, 0, 1, 0, 1);
  const std::vector<float> x = random_vector(input_size(g), 7),
                           dy = random_vector(output_size(g), 8);
  const std::vector<float> w = random_vector(static_cast<size_t>(g.K * 9), 9);
  auto run = [&](std::vector<float>* out) {
    std::vector<float> y(output_size(g)), dx(input_size(g)), dw(static_cast<size_t>(g.K * 9));
    depthwise3x3_forward(g, x.data(), w.data(), nullptr, y.data());
    depthwise3x3_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    *out = y;
    out->insert(out->end(), dx.begin(), dx.end());
    out->insert(out->end(), dw.begin(), dw.end());
  };
  std::vector<float> here, one;
  run(&here);
  const int saved = get_num_threads();
  set_num_threads(1);
  run(&one);
  set_num_threads(saved);
  EXPECT_EQ(here, one);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(DepthwiseFastTest);

}  // namespace
