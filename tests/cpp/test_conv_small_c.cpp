// The few-input-channels direct convolution (conv_small_c_impl.h) against the reference: forced on
// many shapes (odd sizes, every padding, stride 1 and 2, 1-pixel outputs, K not a multiple of the
// tile's 3 channels) with 8- and 16-lane portable vectors (the scalar and AVX-512 tables' widths)
// and 1-3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d_impl.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_generic.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, sh, sw, pt, pl, pb, pr;
};

Conv2dGeometry geometry(const Case& c) {
  return make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                              {c.sh, c.sw, c.pt, c.pl, c.pb, c.pr});
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " s" + std::to_string(c.sh) + "," + std::to_string(c.sw) + " pad " +
         std::to_string(c.pt) + "," + std::to_string(c.pl) + "," + std::to_string(c.pb) + "," +
         std::to_string(c.pr);
}

std::vector<Case> cases() {
  return {
      {2, 3, 32, 32, 32, 5, 5, 1, 1, 2, 2, 2, 2},  // conv5x5_rgb's first layer
      {1, 3, 20, 21, 19, 7, 7, 1, 1, 3, 3, 3, 3},  // 7x7 'same', odd sizes, K = 19
      {2, 3, 30, 29, 32, 7, 7, 2, 2, 3, 3, 3, 3},  // the stem's 7x7 stride 2, odd sizes
      {1, 1, 28, 28, 25, 3, 3, 1, 1, 0, 0, 0, 0},  // lecture net conv 1
      {3, 1, 13, 11, 6, 5, 5, 1, 1, 0, 0, 0, 0},   // LeNet-like, narrow output (7 columns)
      {1, 3, 9, 40, 5, 3, 3, 2, 2, 1, 1, 1, 1},    // allconv-like, 20 columns
      {1, 4, 11, 45, 16, 5, 3, 1, 1, 2, 0, 1, 2},  // C = 4, asymmetric pad, 45 columns
      {2, 2, 12, 17, 7, 3, 5, 2, 1, 1, 2, 0, 2},   // stride 2 down only, non-square kernel
      {1, 3, 7, 7, 4, 7, 7, 1, 1, 0, 0, 0, 0},     // 1x1 output
      {2, 3, 5, 6, 33, 7, 7, 2, 2, 3, 3, 3, 3},    // 3x3 output from a 7x7 stride-2 stem
      {1, 1, 1, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1},     // 1x1 image, all padding
  };
}

float tolerance(const Conv2dGeometry& g) {
  return 2e-5f * (g.C * g.R * g.S + g.K + 1);
}

struct Problem {
  Conv2dGeometry g;
  std::vector<float> x, w, b, want;
};

Problem make_problem(const Case& c, uint32_t seed, bool relu) {
  Problem p;
  p.g = geometry(c);
  p.x = random_vector(c.N * c.C * c.H * c.W, seed);
  p.w = random_vector(c.K * c.C * c.R * c.S, seed + 1);
  p.b = random_vector(c.K, seed + 2);
  p.want.resize(c.N * c.K * p.g.P * p.g.Q);
  conv2d_forward_ref(p.g, p.x.data(), p.w.data(), p.b.data(), p.want.data());
  if (relu) {
    for (float& v : p.want) v = std::max(v, 0.0f);
  }
  return p;
}

// Forced on every case, 1 to 3 threads (the same floats on each).
template <class V, class Cfg>
void check_forced(const char* isa) {
  uint32_t seed = 70;
  for (const Case& c : cases()) {
    Problem p = make_problem(c, seed += 10, true);
    ASSERT_TRUE(impl::small_c_applies<V>(p.g)) << describe(c);
    std::vector<float> first;
    for (int threads = 1; threads <= 3; ++threads) {
      std::vector<float> got(p.want.size(), 77.0f);
      impl::conv2d_forward_algo<V, Cfg>(p.g, p.x.data(), p.w.data(), p.b.data(), got.data(),
                                        Activation::relu, threads, impl::ConvAlgo::small_c);
      EXPECT_TRUE(all_close(got, p.want, tolerance(p.g))) << describe(c) << " " << isa;
      if (threads == 1) first = got;
      EXPECT_EQ(got, first) << describe(c) << " " << isa << ": " << threads << " threads";
    }
  }
}

TEST(ConvSmallC, ForcedAgreesWithTheReference) {
  check_forced<simd::GenericVec<8>, Avx2Cfg>("8 lanes");
  check_forced<simd::GenericVec<16>, Avx512Cfg>("16 lanes");
}

TEST(ConvSmallC, NoBias) {
  using V = simd::GenericVec<8>;
  Problem p = make_problem(cases()[1], 5, false);
  std::vector<float> want(p.want.size()), got(p.want.size(), 3.0f);
  conv2d_forward_ref(p.g, p.x.data(), p.w.data(), nullptr, want.data());
  impl::conv2d_forward_algo<V, Avx2Cfg>(p.g, p.x.data(), p.w.data(), nullptr, got.data(),
                                        Activation::none, 1, impl::ConvAlgo::small_c);
  EXPECT_TRUE(all_close(got, want, tolerance(p.g)));
}

// The automatic choice does not take it (kSmallCAuto: it lost end to end); forcing does.
TEST(ConvSmallC, AutomaticChoiceIsOff) {
  using V8 = simd::GenericVec<8>;
  const Conv2dGeometry g = geometry({64, 3, 32, 32, 32, 5, 5, 1, 1, 2, 2, 2, 2});
  EXPECT_EQ(impl::use_small_c<V8>(impl::ConvAlgo::automatic, g), impl::kSmallCAuto);
  EXPECT_TRUE(impl::use_small_c<V8>(impl::ConvAlgo::small_c, g));
}

}  // namespace
