// The training paths for 5x5 / 7x7 and first-layer convolutions: the broadcast-GEMM weight
// gradient (conv_wgrad_bcast_impl.h) and the input gradient on the forward kernel, against the
// reference kernels, dispatched under every ISA and thread count, and forced with every register
// blocking on portable vectors. Shapes: the suite's 3 -> 32 and 32 -> 64 layers (small batches),
// K not a whole number of vectors or blocks, C*R*S not a whole number of row blocks, non-square
// kernels, asymmetric and large padding, one output pixel, more images than threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_impl.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_generic.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct TrainCase {
  int64_t N, C, H, W, K, R, S, pt, pl, pb, pr;
  int64_t sh = 1, sw = 1;
};

std::vector<TrainCase> train_cases() {
  return {
      {2, 3, 32, 32, 32, 7, 7, 3, 3, 3, 3},   // conv7x7_rgb conv 1
      {2, 32, 16, 16, 64, 7, 7, 3, 3, 3, 3},  // conv7x7_rgb conv 2
      {3, 3, 32, 32, 32, 5, 5, 2, 2, 2, 2},   // conv5x5_rgb conv 1
      {2, 32, 16, 16, 64, 5, 5, 2, 2, 2, 2},  // conv5x5_rgb conv 2
      {2, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1},   // keras_cifar10 conv 1
      {5, 7, 9, 11, 19, 5, 5, 2, 2, 2, 2},    // K and C*R*S with remainders, uneven split
      {2, 5, 10, 8, 40, 3, 2, 1, 0, 1, 1},    // non-square kernel, asymmetric padding
      {1, 4, 6, 7, 17, 7, 7, 4, 3, 2, 5},     // padding beyond half the kernel
      {2, 6, 5, 5, 16, 5, 5, 0, 0, 0, 0},     // one output pixel
      {3, 1, 28, 28, 25, 3, 3, 0, 0, 0, 0},   // lecture conv 1 (C = 1)
      {2, 2, 9, 13, 70, 5, 3, 2, 1, 2, 1},    // K past one register block
      // Strides (the offset table, images grouped to fill a chunk of pixels).
      {2, 32, 16, 16, 64, 3, 3, 1, 1, 1, 1, 2, 2},  // allconv_s2 conv 2
      {5, 64, 8, 8, 128, 3, 3, 1, 1, 1, 1, 2, 2},   // allconv_s2 conv 3 (groups of 3 images)
      {5, 7, 11, 9, 20, 3, 3, 1, 0, 1, 1, 2, 2},    // odd sizes, asymmetric padding, K = 20
      {3, 8, 13, 10, 32, 5, 3, 2, 1, 2, 1, 2, 1},   // non-square kernel and stride
      {4, 5, 14, 14, 24, 7, 7, 3, 3, 3, 3, 3, 3},   // stride 3
      {7, 16, 9, 9, 40, 3, 3, 1, 1, 1, 1, 2, 2},    // a last group of fewer images
      {2, 3, 20, 20, 32, 7, 7, 3, 3, 3, 3, 2, 2},   // a 7x7 stride-2 stem
  };
}

Conv2dGeometry geometry(const TrainCase& c) {
  return make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                              {c.sh, c.sw, c.pt, c.pl, c.pb, c.pr});
}

std::string describe(const TrainCase& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " pad " + std::to_string(c.pt) + "," + std::to_string(c.pl) + "," +
         std::to_string(c.pb) + "," + std::to_string(c.pr) + " stride " + std::to_string(c.sh) +
         "," + std::to_string(c.sw);
}

struct Problem {
  Conv2dGeometry g;
  std::vector<float> x, w, dy;
};

Problem make_problem(const TrainCase& c, uint32_t seed) {
  Problem p;
  p.g = geometry(c);
  p.x = random_vector(c.N * c.C * c.H * c.W, seed);
  p.w = random_vector(c.K * c.C * c.R * c.S, seed + 1);
  p.dy = random_vector(c.N * c.K * p.g.P * p.g.Q, seed + 2);
  return p;
}

// Sums of N*P*Q products (dw) or of K*R*S (dx) of values in [-1, 1].
float dw_tolerance(const Conv2dGeometry& g) {
  return 2e-5f * (g.N * g.P * g.Q + 1);
}
float dx_tolerance(const Conv2dGeometry& g) {
  return 2e-5f * (g.K * g.R * g.S + 1);
}

class ConvTrainPathsTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvTrainPathsTest, GradientsMatchTheReference) {
  uint32_t seed = 70;
  for (const TrainCase& c : train_cases()) {
    const Problem p = make_problem(c, seed += 3);
    std::vector<float> want_w(p.w.size()), want_b(c.K), want_x(p.x.size());
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_w.data(), want_b.data());
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want_x.data());
    std::vector<float> got_w(p.w.size(), 7.0f), got_b(c.K, 7.0f), got_x(p.x.size(), 7.0f);
    conv2d_backward(p.g, p.x.data(), p.w.data(), p.dy.data(), got_x.data(), got_w.data(),
                    got_b.data());
    EXPECT_TRUE(all_close(got_w, want_w, dw_tolerance(p.g))) << describe(c);
    EXPECT_TRUE(all_close(got_b, want_b, dw_tolerance(p.g))) << describe(c);
    EXPECT_TRUE(all_close(got_x, want_x, dx_tolerance(p.g))) << describe(c);
    // Without the bias gradient and without dx (the first layer's backward).
    std::vector<float> only_w(p.w.size(), 7.0f);
    conv2d_backward(p.g, p.x.data(), p.w.data(), p.dy.data(), nullptr, only_w.data(), nullptr);
    EXPECT_EQ(only_w, got_w) << describe(c);
  }
}

// The same floats on every call with a given thread count (the threads' partial sums are added
// in thread order).
TEST_P(ConvTrainPathsTest, WeightGradientDeterministic) {
  const TrainCase c{7, 3, 20, 20, 32, 7, 7, 3, 3, 3, 3};
  const Problem p = make_problem(c, 5);
  std::vector<float> a(p.w.size()), b(p.w.size()), da(c.K), db(c.K);
  conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), a.data(), da.data());
  conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), b.data(), db.data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(da, db);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvTrainPathsTest);

// The broadcast weight gradient forced with each ISA's register blocking on portable vectors
// (8 and 16 lanes), 1 and 2 threads, against the reference.
template <class V, class Cfg>
void check_wgrad_bcast(const char* blocking) {
  uint32_t seed = 300;
  for (const TrainCase& c : train_cases()) {
    const Problem p = make_problem(c, seed += 3);
    std::vector<float> want_w(p.w.size()), want_b(c.K);
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_w.data(), want_b.data());
    for (int threads : {1, 2}) {
      std::vector<float> got_w(p.w.size(), 7.0f), got_b(c.K, 7.0f);
      impl::conv2d_backward_weight_bcast<V, Cfg>(p.g, p.x.data(), p.dy.data(), got_w.data(),
                                                 got_b.data(), threads);
      const std::string what = describe(c) + " " + blocking + " t" + std::to_string(threads);
      EXPECT_TRUE(all_close(got_w, want_w, dw_tolerance(p.g))) << what;
      EXPECT_TRUE(all_close(got_b, want_b, dw_tolerance(p.g))) << what;
    }
  }
}

TEST(ConvWgradBcast, EveryBlockingAgreesWithTheReference) {
  check_wgrad_bcast<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_wgrad_bcast<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_wgrad_bcast<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// The automatic choice: any stride, >= 16 output channels and >= 64 rows C*R*S (not the
// lecture net's conv 1, whose transpose of dy would cost as much as its FMAs), not 1x1.
TEST(ConvWgradBcast, ChosenForStride1LayersWithEnoughOutputChannels) {
  EXPECT_TRUE(impl::wgrad_bcast_suits(geometry({128, 32, 16, 16, 64, 7, 7, 3, 3, 3, 3})));
  EXPECT_TRUE(impl::wgrad_bcast_suits(geometry({128, 3, 32, 32, 32, 5, 5, 2, 2, 2, 2})));
  EXPECT_FALSE(impl::wgrad_bcast_suits(geometry({128, 1, 28, 28, 6, 5, 5, 2, 2, 2, 2})));
  EXPECT_FALSE(impl::wgrad_bcast_suits(geometry({64, 1, 28, 28, 25, 3, 3, 0, 0, 0, 0})));
  EXPECT_FALSE(impl::wgrad_bcast_suits(geometry({64, 64, 16, 16, 64, 1, 1, 0, 0, 0, 0})));
  EXPECT_FALSE(impl::wgrad_bcast_suits(
      make_conv2d_geometry({8, 3, 32, 32}, {32, 3, 3, 3}, {2, 2, 1, 1, 1, 1})));
  // Strided, with enough channels: allconv_s2's conv 2 and 3.
  EXPECT_TRUE(impl::wgrad_bcast_suits(
      make_conv2d_geometry({128, 32, 16, 16}, {64, 32, 3, 3}, {2, 2, 1, 1, 1, 1})));
  EXPECT_TRUE(impl::wgrad_bcast_suits(
      make_conv2d_geometry({128, 64, 8, 8}, {128, 64, 3, 3}, {2, 2, 1, 1, 1, 1})));
}

}  // namespace
