// The fast convolution kernels (kernels/conv2d.h) against the reference kernels (conv2d_ref.h)
// under every ISA and thread count: odd sizes, strides, asymmetric and large padding, 1x1 and
// non-square kernels, batch smaller/larger than the thread count, fused bias + ReLU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_impl.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_generic.h"
#include "kernels/pool/pool2d_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct ConvCase {
  int64_t N, C, H, W, K, R, S, sh, sw, pt, pl, pb, pr;
};

Conv2dGeometry geometry(const ConvCase& c) {
  return kernels::make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                                       {c.sh, c.sw, c.pt, c.pl, c.pb, c.pr});
}

std::string describe(const ConvCase& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " stride " + std::to_string(c.sh) + "," + std::to_string(c.sw) +
         " pad " + std::to_string(c.pt) + "," + std::to_string(c.pl) + "," + std::to_string(c.pb) +
         "," + std::to_string(c.pr);
}

std::vector<ConvCase> conv_cases() {
  return {
      {2, 1, 28, 28, 25, 3, 3, 1, 1, 0, 0, 0, 0},   // lecture conv 1
      {3, 25, 13, 13, 50, 3, 3, 1, 1, 0, 0, 0, 0},  // lecture conv 2
      {1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 0, 0},
      {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1},
      {3, 4, 8, 8, 7, 3, 3, 1, 1, 1, 1, 1, 1},
      {1, 16, 10, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1},
      {5, 2, 9, 10, 3, 1, 1, 1, 1, 0, 0, 0, 0},  // 1x1
      {2, 3, 11, 7, 4, 5, 5, 1, 1, 2, 2, 2, 2},
      {2, 3, 9, 8, 6, 3, 2, 1, 1, 1, 0, 1, 1},    // non-square kernel, asymmetric pad
      {2, 2, 6, 6, 3, 3, 3, 1, 1, 0, 0, 1, 1},    // 'same'-style bottom/right pad only
      {1, 2, 4, 5, 3, 3, 3, 1, 1, 3, 4, 3, 2},    // padding larger than the kernel
      {2, 3, 10, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1},   // stride 2
      {3, 2, 11, 12, 5, 3, 3, 2, 3, 0, 1, 1, 0},  // mixed strides
      {2, 3, 8, 8, 4, 2, 2, 2, 2, 0, 0, 0, 0},    // stride = kernel
      // Strided input gradient: 9x9 outputs, so 3 images share a GEMM (kDgradStridedColumns); 7
      // images leave a partial last group under 1 and 2 threads.
      {7, 5, 17, 18, 6, 3, 3, 2, 2, 1, 1, 1, 1},
      // Stride-2 input gradient's paired column scatter (col2im_scatter_pairs): odd widths with
      // asymmetric padding (a column of each phase falls outside dx), and a 1x1 output.
      {3, 12, 11, 13, 20, 3, 3, 2, 2, 0, 1, 1, 0},
      {2, 9, 3, 3, 10, 3, 3, 2, 2, 1, 1, 0, 0},
      // The strided input gradient's phases (conv_dgrad_phases_impl.h): allconv's layer (the
      // blocked direct kernel per phase), strides beyond the kernel (rows and columns no tap
      // reaches), and a 6x5 kernel whose 3x3 sub-kernels Winograd must not take.
      {3, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1},
      {2, 4, 10, 11, 5, 2, 2, 3, 3, 1, 0, 1, 1},
      {17, 5, 14, 13, 16, 6, 5, 2, 2, 2, 2, 2, 2},
      // Strided forwards on phase planes (conv_strided_impl.h): first layers, 5x5 / 7x7,
      // non-square kernels with unequal strides, padding beyond a phase, tiny inputs, and enough
      // channels for several bands of output rows.
      {2, 3, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1},
      {2, 3, 23, 19, 6, 7, 7, 2, 2, 3, 3, 3, 3},
      {2, 2, 9, 11, 5, 5, 4, 3, 2, 2, 1, 0, 2},
      {1, 2, 2, 2, 3, 1, 1, 2, 2, 0, 1, 0, 1},
      {2, 1, 12, 13, 4, 5, 5, 2, 2, 4, 3, 2, 1},
      {2, 16, 60, 50, 8, 3, 3, 2, 2, 1, 1, 1, 1},
      {1, 5, 3, 3, 2, 3, 3, 1, 1, 0, 0, 0, 0},    // 1x1 output
      {4, 6, 5, 17, 13, 3, 3, 1, 1, 1, 1, 1, 1},  // K with remainders, long rows
      {2, 8, 12, 12, 64, 3, 3, 1, 1, 1, 1, 1, 1},
      {7, 3, 6, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1},  // more images than threads, uneven split
      // Small images, where the dispatched input gradient takes the col + gather path (K large
      // enough for its cost model; ConvDgradPaths.AgreeWithTheReference forces both paths on
      // every case).
      {1, 25, 13, 13, 50, 3, 3, 1, 1, 1, 1, 1, 1},  // lecture conv 2 with padding 1
      {5, 7, 9, 12, 11, 3, 3, 1, 1, 0, 0, 0, 0},    // non-square, C and K not block multiples
      {3, 5, 10, 8, 40, 3, 2, 1, 1, 1, 0, 1, 1},    // non-square kernel, asymmetric padding
      {2, 6, 7, 19, 40, 3, 3, 1, 1, 0, 2, 0, 1},    // rows wider than two vectors, pad 2 left
      {2, 8, 40, 40, 48, 3, 3, 1, 1, 0, 0, 0, 0},   // several bands of output rows
      // Weight grad: stacks of 3 images (300 pixels each) with a partial last stack, and a
      // geometry big enough (1122 pixels) for the offset-GEMM path.
      {5, 2, 20, 15, 3, 3, 3, 1, 1, 1, 1, 1, 1},
      {2, 3, 34, 33, 4, 3, 3, 1, 1, 1, 1, 1, 1},
      // Inference with Winograd F(4x4, 3x3): whole blocks of 8 (AVX-512: 16) images, plus a
      // left-over image with the lanes over its tiles.
      {17, 9, 6, 6, 10, 3, 3, 1, 1, 1, 1, 1, 1},
      // Training with F(4x4): whole blocks (two of 8 images, one of 16), and two blocks of 8
      // with the last one padded (AVX-512: F(2x2), 13 of 16 lanes).
      {16, 9, 7, 6, 10, 3, 3, 1, 1, 1, 0, 0, 1},
      {13, 9, 6, 7, 10, 3, 3, 1, 1, 0, 1, 1, 0},
  };
}

class ConvFastTest : public pocketcnn::testing::IsaThreadsTest {};

struct Problem {
  Conv2dGeometry g;
  std::vector<float> x, w, b, dy;
};

Problem make_problem(const ConvCase& c, uint32_t seed) {
  Problem p;
  p.g = geometry(c);
  p.x = random_vector(c.N * c.C * c.H * c.W, seed);
  p.w = random_vector(c.K * c.C * c.R * c.S, seed + 1);
  p.b = random_vector(c.K, seed + 2);
  p.dy = random_vector(c.N * c.K * p.g.P * p.g.Q, seed + 3);
  return p;
}

// The 2x2 / stride 2 max pool of a convolution's output (P / 2 x Q / 2 windows).
Pool2dGeometry pool2x2_of(const Conv2dGeometry& g) {
  Pool2dGeometry pg{};
  pg.N = g.N, pg.C = g.K, pg.H = g.P, pg.W = g.Q, pg.kernel_h = pg.kernel_w = 2;
  pg.stride_h = pg.stride_w = 2, pg.P = g.P / 2, pg.Q = g.Q / 2;
  return pg;
}

// conv + bias + act + 2x2 max pool of p, as the three steps (want) and as the fused kernel (got);
// both empty when the output is too small to pool.
struct PooledPair {
  std::vector<float> want, got;
};

PooledPair fused_and_steps(const Problem& p, Activation act) {
  const Pool2dGeometry pg = pool2x2_of(p.g);
  if (pg.P == 0 || pg.Q == 0) return {};
  std::vector<float> y(p.dy.size());
  PooledPair r{std::vector<float>(pg.N * pg.C * pg.P * pg.Q), {}};
  r.got.assign(r.want.size(), 9.0f);
  conv2d_forward(p.g, p.x.data(), p.w.data(), p.b.data(), y.data(), act);
  max_pool2d_forward_ref(pg, y.data(), r.want.data(), nullptr);
  conv2d_forward_maxpool2x2(p.g, p.x.data(), p.w.data(), p.b.data(), r.got.data(), act);
  return r;
}

float tolerance(const Conv2dGeometry& g) {
  return 2e-5f * (g.C * g.R * g.S + g.K + 1);
}

TEST_P(ConvFastTest, ForwardMatchesReference) {
  uint32_t seed = 1;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    const size_t ny = p.dy.size();
    for (int variant = 0; variant < 3; ++variant) {
      // 0: bias, 1: no bias, 2: bias + fused ReLU
      const float* b = variant == 1 ? nullptr : p.b.data();
      std::vector<float> want(ny), got(ny, 123.0f);
      conv2d_forward_ref(p.g, p.x.data(), p.w.data(), b, want.data());
      if (variant == 2) {
        for (float& v : want) v = std::max(v, 0.0f);
      }
      conv2d_forward(p.g, p.x.data(), p.w.data(), b, got.data(),
                     variant == 2 ? Activation::relu : Activation::none);
      EXPECT_TRUE(all_close(got, want, tolerance(p.g))) << describe(c) << " variant " << variant;
    }
  }
}

TEST_P(ConvFastTest, ForwardFusedWithMaxPoolEqualsTheSteps) {
  // conv + bias + act + 2x2 max pool in one kernel gives exactly the floats of the three steps.
  uint32_t seed = 7;
  for (const ConvCase& c : conv_cases()) {
    if (c.sh != 1 || c.sw != 1) continue;
    const Problem p = make_problem(c, seed += 10);
    for (Activation act : {Activation::none, Activation::relu}) {
      const PooledPair r = fused_and_steps(p, act);
      EXPECT_EQ(r.got, r.want) << describe(c) << " act " << static_cast<int>(act);
    }
  }
}

TEST_P(ConvFastTest, ForwardFusedWithMaxPoolPropagatesNaN) {
  // A NaN input reaches some conv outputs of a pooling window but not others (a tile corner
  // reaches one of Winograd's four): the fused pool must keep it, as the separate pool does.
  uint32_t seed = 8;
  for (const ConvCase& c : conv_cases()) {
    if (c.sh != 1 || c.sw != 1) continue;
    Problem p = make_problem(c, seed += 10);
    const float nan = std::nanf("");
    p.x[0] = nan;                         // image 0, channel 0, the top left pixel
    p.x[p.x.size() / 2 + c.W / 2] = nan;  // somewhere inside
    p.x[p.x.size() - 1] = nan;            // the last image's bottom right pixel
    const PooledPair r = fused_and_steps(p, Activation::relu);
    const std::vector<float>&got = r.got, &want = r.want;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(std::isnan(got[i]), std::isnan(want[i])) << describe(c) << " output " << i;
      if (!std::isnan(want[i])) ASSERT_EQ(got[i], want[i]) << describe(c) << " output " << i;
    }
  }
}

TEST_P(ConvFastTest, BackwardInputMatchesReference) {
  uint32_t seed = 2;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    std::vector<float> want(p.x.size()), got(p.x.size(), 123.0f);
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want.data());
    conv2d_backward_input(p.g, p.dy.data(), p.w.data(), got.data());
    EXPECT_TRUE(all_close(got, want, tolerance(p.g))) << describe(c);
  }
}

TEST_P(ConvFastTest, BackwardWeightMatchesReference) {
  uint32_t seed = 3;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    const float tol = 2e-5f * (c.N * p.g.P * p.g.Q + 1);
    std::vector<float> want_w(p.w.size()), got_w(p.w.size(), 123.0f);
    std::vector<float> want_b(c.K), got_b(c.K, 123.0f);
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_w.data(), want_b.data());
    conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), got_w.data(), got_b.data());
    EXPECT_TRUE(all_close(got_w, want_w, tol)) << describe(c);
    EXPECT_TRUE(all_close(got_b, want_b, tol)) << describe(c);
    // Without a bias gradient.
    std::fill(got_w.begin(), got_w.end(), 123.0f);
    conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), got_w.data(), nullptr);
    EXPECT_TRUE(all_close(got_w, want_w, tol)) << describe(c) << " (db null)";
  }
}

// conv2d_backward: both gradients in one call (Winograd shares dy's transform between them), or
// either one alone, against the reference kernels.
TEST_P(ConvFastTest, BackwardBothGradientsInOneCall) {
  uint32_t seed = 4;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    const float wtol = 2e-5f * (c.N * p.g.P * p.g.Q + 1);
    std::vector<float> want_x(p.x.size()), want_w(p.w.size()), want_b(c.K);
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want_x.data());
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_w.data(), want_b.data());
    for (int variant = 0; variant < 4; ++variant) {  // both, both without db, dx alone, dw alone
      const bool want_dx = variant != 3, want_dw = variant != 2, want_db = variant != 1;
      std::vector<float> dx(p.x.size(), 123.0f), dw(p.w.size(), 123.0f), db(c.K, 123.0f);
      conv2d_backward(p.g, p.x.data(), p.w.data(), p.dy.data(), want_dx ? dx.data() : nullptr,
                      want_dw ? dw.data() : nullptr, want_dw && want_db ? db.data() : nullptr);
      const std::string what = describe(c) + " variant " + std::to_string(variant);
      if (want_dx) EXPECT_TRUE(all_close(dx, want_x, tolerance(p.g))) << what;
      if (want_dw) EXPECT_TRUE(all_close(dw, want_w, wtol)) << what;
      if (want_dw && want_db) EXPECT_TRUE(all_close(db, want_b, wtol)) << what;
      if (!want_dx) EXPECT_EQ(dx, std::vector<float>(dx.size(), 123.0f)) << what << ": dx written";
    }
  }
}

// Training: the forward saves Winograd's transform of x (where it has one) and the backward uses
// it without reading x (passed as null): the same floats as without saving (for batches below
// 8 images; larger ones take F(4x4) when not saving), against the reference.
TEST_P(ConvFastTest, BackwardFromWhatTheForwardSaved) {
  uint32_t seed = 6;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    const int64_t n = conv2d_saved_floats(p.g);
    if (n == 0) continue;
    std::vector<float> saved(n, 5.0f), y(p.dy.size()), y_plain(p.dy.size());
    conv2d_forward(p.g, p.x.data(), p.w.data(), p.b.data(), y.data(), Activation::none,
                   saved.data());
    conv2d_forward(p.g, p.x.data(), p.w.data(), p.b.data(), y_plain.data());
    std::vector<float> want_y(p.dy.size());
    conv2d_forward_ref(p.g, p.x.data(), p.w.data(), p.b.data(), want_y.data());
    EXPECT_TRUE(all_close(y, want_y, tolerance(p.g))) << describe(c) << ": saving forward";
    if (c.N < 8) EXPECT_EQ(y, y_plain) << describe(c) << ": saving changed the forward";
    std::vector<float> dx(p.x.size()), dw(p.w.size()), db(c.K), dx2(p.x.size()), dw2(p.w.size()),
        db2(c.K);
    conv2d_backward(p.g, nullptr, p.w.data(), p.dy.data(), dx.data(), dw.data(), db.data(),
                    saved.data());
    conv2d_backward(p.g, p.x.data(), p.w.data(), p.dy.data(), dx2.data(), dw2.data(), db2.data());
    EXPECT_EQ(dx, dx2) << describe(c);
    EXPECT_EQ(dw, dw2) << describe(c);
    EXPECT_EQ(db, db2) << describe(c);
    std::vector<float> want_w(p.w.size()), want_b(c.K);
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_w.data(), want_b.data());
    EXPECT_TRUE(all_close(dw, want_w, 2e-5f * (c.N * p.g.P * p.g.Q + 1))) << describe(c);
  }
}

TEST_P(ConvFastTest, WeightGradDeterministicForAThreadCount) {
  Problem p = make_problem({7, 6, 10, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1}, 99);
  std::vector<float> w1(p.w.size()), w2(p.w.size()), b1(8), b2(8);
  conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), w1.data(), b1.data());
  conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), w2.data(), b2.data());
  EXPECT_EQ(w1, w2);
  EXPECT_EQ(b1, b2);
}

TEST_P(ConvFastTest, EmptyBatchAndZeroChannels) {
  Problem p = make_problem({0, 3, 5, 5, 4, 3, 3, 1, 1, 0, 0, 0, 0}, 5);
  std::vector<float> dw(4 * 3 * 9, 7.0f), db(4, 7.0f);
  conv2d_forward(p.g, p.x.data(), p.w.data(), p.b.data(), nullptr);
  conv2d_backward_weight(p.g, p.x.data(), p.dy.data(), dw.data(), db.data());
  EXPECT_EQ(dw, std::vector<float>(dw.size(), 0.0f));
  EXPECT_EQ(db, std::vector<float>(4, 0.0f));
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvFastTest);

// The AVX-512 blocking on any machine (portable 16-lane vectors).
TEST(ConvWide, Avx512BlockingWithPortableVectors) {
  using V = simd::GenericVec<16>;
  uint32_t seed = 500;
  for (const ConvCase& c : conv_cases()) {
    Problem p = make_problem(c, seed += 10);
    std::vector<float> want(p.dy.size()), got(p.dy.size());
    conv2d_forward_ref(p.g, p.x.data(), p.w.data(), p.b.data(), want.data());
    impl::conv2d_forward<V, Avx512Cfg>(p.g, p.x.data(), p.w.data(), p.b.data(), got.data(),
                                       Activation::none, 2);
    EXPECT_TRUE(all_close(got, want, tolerance(p.g))) << describe(c);
    std::vector<float> want_dx(p.x.size()), got_dx(p.x.size());
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want_dx.data());
    impl::conv2d_backward_input<V, Avx512Cfg>(p.g, p.dy.data(), p.w.data(), got_dx.data(), 2);
    EXPECT_TRUE(all_close(got_dx, want_dx, tolerance(p.g))) << describe(c);
    std::vector<float> want_dw(p.w.size()), got_dw(p.w.size()), want_db(c.K), got_db(c.K);
    conv2d_backward_weight_ref(p.g, p.x.data(), p.dy.data(), want_dw.data(), want_db.data());
    impl::conv2d_backward_weight<V, Avx512Cfg>(p.g, p.x.data(), p.dy.data(), got_dw.data(),
                                               got_db.data(), 2);
    const float tol = 2e-5f * (c.N * p.g.P * p.g.Q + 1);
    EXPECT_TRUE(all_close(got_dw, want_dw, tol)) << describe(c);
    EXPECT_TRUE(all_close(got_db, want_db, tol)) << describe(c);
  }
}

// The strided forward paths (phase planes, im2col), forced on every strided case with every
// register blocking on portable vectors, against the reference, with bias and ReLU; the same
// floats on 1 and 2 threads.
template <class V, class Cfg>
void check_strided_forward_paths(const char* blocking) {
  uint32_t seed = 900;
  int checked = 0;
  for (const ConvCase& c : conv_cases()) {
    if (c.sh == 1 && c.sw == 1) continue;
    Problem p = make_problem(c, seed += 10);
    std::vector<float> want(p.dy.size());
    conv2d_forward_ref(p.g, p.x.data(), p.w.data(), p.b.data(), want.data());
    for (float& v : want) v = std::max(v, 0.0f);
    for (impl::ConvAlgo algo : {impl::ConvAlgo::direct, impl::ConvAlgo::im2col}) {
      const std::string what = describe(c) + " " + blocking +
                               (algo == impl::ConvAlgo::direct ? " phase planes" : " im2col");
      std::vector<float> got1(p.dy.size(), 123.0f), got2(p.dy.size(), -5.0f);
      impl::conv2d_forward_algo<V, Cfg>(p.g, p.x.data(), p.w.data(), p.b.data(), got1.data(),
                                        Activation::relu, 1, algo);
      impl::conv2d_forward_algo<V, Cfg>(p.g, p.x.data(), p.w.data(), p.b.data(), got2.data(),
                                        Activation::relu, 2, algo);
      EXPECT_TRUE(all_close(got1, want, tolerance(p.g))) << what;
      EXPECT_EQ(got1, got2) << what << ": 1 vs 2 threads";
      ++checked;
    }
  }
  EXPECT_GE(checked, 16);  // the strided cases are really there
}

TEST(ConvStridedForward, BothPathsAgreeWithTheReference) {
  check_strided_forward_paths<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_strided_forward_paths<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_strided_forward_paths<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// Phase planes where their junk columns cost less than im2col's gather: the first layers with
// 3 input channels, not the 32->64 3x3 stride 2 layer on 16x16 (8x8 outputs: twice the columns).
TEST(ConvStridedForward, CostModelPicksPhasePlanesForFirstLayers) {
  using V = simd::GenericVec<16>;
  auto phase = [](const ConvCase& c) {
    const Conv2dGeometry g = geometry(c);
    return impl::strided_phase_planes_suit<V, Avx512Cfg>(g, impl::make_strided_banding(g));
  };
  EXPECT_TRUE(phase({64, 3, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1}));
  EXPECT_TRUE(phase({64, 3, 32, 32, 32, 7, 7, 2, 2, 3, 3, 3, 3}));
  EXPECT_FALSE(phase({64, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1}));
}

// The stride-1 input-gradient algorithms (correlation, col + gather, Winograd), with every register
// blocking on portable vectors, against the reference; bitwise the same for any thread count and
// for an image alone or in a batch (a sample's gradient must not depend on its batch).
template <class V, class Cfg>
void check_dgrad_paths(const char* blocking) {
  uint32_t seed = 700;
  for (const ConvCase& c : conv_cases()) {
    if (c.sh != 1 || c.sw != 1) continue;
    Problem p = make_problem(c, seed += 10);
    std::vector<float> want(p.x.size());
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want.data());
    for (impl::DgradPath path :
         {impl::DgradPath::correlate, impl::DgradPath::col, impl::DgradPath::winograd}) {
      const char* names[] = {"auto", "correlate", "col", "winograd", "phases"};
      const std::string what = describe(c) + " " + blocking + " " + names[static_cast<int>(path)];
      std::vector<float> got1(p.x.size(), 123.0f), got2(p.x.size(), -5.0f);
      impl::conv2d_backward_input_path<V, Cfg>(p.g, p.dy.data(), p.w.data(), got1.data(), 1, path);
      impl::conv2d_backward_input_path<V, Cfg>(p.g, p.dy.data(), p.w.data(), got2.data(), 2, path);
      EXPECT_TRUE(all_close(got1, want, tolerance(p.g))) << what;
      EXPECT_EQ(got1, got2) << what << ": 1 vs 2 threads";
      // The last image alone.
      Conv2dGeometry g1 = p.g;
      g1.N = 1;
      const int64_t nx = c.C * c.H * c.W, ny = c.K * p.g.P * p.g.Q;
      std::vector<float> alone(nx, 7.0f);
      impl::conv2d_backward_input_path<V, Cfg>(g1, p.dy.data() + (c.N - 1) * ny, p.w.data(),
                                               alone.data(), 1, path);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), got1.end() - nx)) << what << ": alone";
    }
  }
}

// The strided input-gradient algorithms (col + col2im, the phases on the blocked kernel) on every
// register blocking against the reference; bitwise the same for any thread count and for an image
// alone or in a batch.
template <class V, class Cfg>
void check_strided_dgrad_paths(const char* blocking) {
  uint32_t seed = 900;
  for (const ConvCase& c : conv_cases()) {
    if (c.sh == 1 && c.sw == 1) continue;
    Problem p = make_problem(c, seed += 10);
    std::vector<float> want(p.x.size());
    conv2d_backward_input_ref(p.g, p.dy.data(), p.w.data(), want.data());
    for (impl::DgradPath path : {impl::DgradPath::col, impl::DgradPath::phases}) {
      const std::string what =
          describe(c) + " " + blocking + (path == impl::DgradPath::col ? " col" : " phases");
      std::vector<float> got1(p.x.size(), 123.0f), got2(p.x.size(), -5.0f);
      impl::conv2d_backward_input_path<V, Cfg>(p.g, p.dy.data(), p.w.data(), got1.data(), 1, path);
      impl::conv2d_backward_input_path<V, Cfg>(p.g, p.dy.data(), p.w.data(), got2.data(), 2, path);
      EXPECT_TRUE(all_close(got1, want, tolerance(p.g))) << what;
      EXPECT_EQ(got1, got2) << what << ": 1 vs 2 threads";
      Conv2dGeometry g1 = p.g;
      g1.N = 1;
      const int64_t nx = c.C * c.H * c.W, ny = c.K * p.g.P * p.g.Q;
      std::vector<float> alone(nx, 7.0f);
      impl::conv2d_backward_input_path<V, Cfg>(g1, p.dy.data() + (c.N - 1) * ny, p.w.data(),
                                               alone.data(), 1, path);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), got1.end() - nx)) << what << ": alone";
    }
  }
}

TEST(ConvDgradPaths, StridedAgreeWithTheReference) {
  check_strided_dgrad_paths<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_strided_dgrad_paths<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_strided_dgrad_paths<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// The phases run on the blocked kernel wherever its tiles fit every phase's output: the cases above
// that exercise it (rows and columns no tap reaches, 3x3 sub-kernels, odd padding) and the suite's
// layers; a 3x3 input's 2x2 output takes col, as does a padding as large as the kernel.
TEST(ConvDgradPaths, PhasesApplyWhereTheBlockedTilesFit) {
  auto applies = [](const ConvCase& c) {
    return impl::make_dgrad_phase_plan<simd::GenericVec<16>>(geometry(c)).applies();
  };
  EXPECT_TRUE(applies({3, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1}));
  EXPECT_TRUE(applies({3, 64, 8, 8, 128, 3, 3, 2, 2, 1, 1, 1, 1}));
  EXPECT_TRUE(applies({2, 4, 10, 11, 5, 2, 2, 3, 3, 1, 0, 1, 1}));
  EXPECT_TRUE(applies({17, 5, 14, 13, 16, 6, 5, 2, 2, 2, 2, 2, 2}));
  EXPECT_TRUE(applies({3, 12, 11, 13, 20, 3, 3, 2, 2, 0, 1, 1, 0}));
  EXPECT_FALSE(applies({2, 9, 3, 3, 10, 3, 3, 2, 2, 1, 1, 0, 0}));
  EXPECT_FALSE(applies({1, 16, 16, 16, 16, 3, 3, 2, 2, 3, 1, 1, 1}));  // padding >= the kernel
}

TEST(ConvDgradPaths, AgreeWithTheReference) {
  check_dgrad_paths<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_dgrad_paths<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_dgrad_paths<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// For layers Winograd does not take, the cost model puts small images on col + gather (the lecture
// net's conv 2 geometry: 1.06x the useful FMAs, a correlation computes 1.6x) and the 64->64 56x56
// geometry on the correlation (no gather pass).
TEST(ConvDgradPaths, CostModelPicksByImageSize) {
  using V = simd::GenericVec<8>;
  auto pick = [](const ConvCase& c) {
    const Conv2dGeometry g = geometry(c);
    return impl::dgrad_choose_path<V, Avx2Cfg>(g, impl::make_dgrad_banding<V, Avx2Cfg>(g));
  };
  EXPECT_EQ(pick({64, 25, 13, 13, 50, 3, 3, 1, 1, 0, 0, 0, 0}), impl::DgradPath::col);
  EXPECT_EQ(pick({64, 25, 13, 13, 50, 3, 3, 1, 1, 1, 1, 1, 1}), impl::DgradPath::col);
  EXPECT_EQ(pick({32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1}), impl::DgradPath::correlate);
}

// Winograd F(2x2, 3x3), forced on every 3x3 stride-1 case plus odd/even sizes, rows of one and
// of several vectors of tiles, and asymmetric padding, with every register blocking on portable
// vectors: forward (bias, ReLU) against the reference; the fused 2x2 max pool bitwise equal to
// the steps; the same floats whether images are grouped, one per group, or split into bands of
// tile rows (group_bytes), for 1 and 2 threads and for an image alone; the weight gradient
// against the reference for every grouping and thread count.
template <class V, class Cfg>
void check_winograd(const char* blocking) {
  std::vector<ConvCase> cases = conv_cases();
  cases.insert(cases.end(), {
                                {3, 8, 4, 4, 8, 3, 3, 1, 1, 0, 0, 0, 0},      // one tile
                                {2, 9, 7, 6, 10, 3, 3, 1, 1, 0, 0, 0, 0},     // odd P, even Q
                                {4, 8, 38, 35, 9, 3, 3, 1, 1, 1, 2, 1, 0},    // 17+ tiles a row
                                {3, 11, 12, 13, 12, 3, 3, 1, 1, 2, 1, 0, 2},  // pad 2 on top
                                {1, 129, 4, 5, 130, 3, 3, 1, 1, 1, 1, 1, 1},  // not cached: too big
                            });
  uint32_t seed = 900;
  for (const ConvCase& c : cases) {
    if (c.sh != 1 || c.sw != 1 || c.R != 3 || c.S != 3) continue;
    Problem p = make_problem(c, seed += 10);
    const Conv2dGeometry& g = p.g;
    std::vector<float> want(p.dy.size());
    conv2d_forward_ref(g, p.x.data(), p.w.data(), p.b.data(), want.data());
    for (float& v : want) v = std::max(v, 0.0f);
    std::vector<float> first;
    // Default groups; one image per group (tiny budget: a band of one tile row or whole images
    // of few tiles); a budget between.
    for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{64 * 4 * 16 * 20}}) {
      for (int threads : {1, 2}) {
        const std::string what = describe(c) + " " + blocking + " group_bytes " +
                                 std::to_string(bytes) + " threads " + std::to_string(threads);
        std::vector<float> got(p.dy.size(), 123.0f);
        impl::winograd_correlate<V, Cfg>(g, p.x.data(), p.w.data(), p.b.data(), got.data(),
                                         Activation::relu, false, threads, bytes);
        EXPECT_TRUE(all_close(got, want, tolerance(g))) << what;
        if (first.empty()) first = got;
        EXPECT_EQ(got, first) << what << ": differs from the default grouping";
        if (g.P < 2 || g.Q < 2) continue;
        const Pool2dGeometry pg = pool2x2_of(g);
        std::vector<float> pooled(c.N * c.K * pg.P * pg.Q), fused(pooled.size(), 9.0f);
        max_pool2d_forward_ref(pg, got.data(), pooled.data(), nullptr);
        impl::winograd_correlate<V, Cfg>(g, p.x.data(), p.w.data(), p.b.data(), fused.data(),
                                         Activation::relu, true, threads, bytes);
        EXPECT_EQ(fused, pooled) << what << ": fused pool";
      }
    }
    // The last image alone.
    const int64_t ny = c.K * g.P * g.Q;
    Conv2dGeometry one = g;
    one.N = 1;
    std::vector<float> alone(ny, 7.0f);
    impl::winograd_correlate<V, Cfg>(one, p.x.data() + (c.N - 1) * c.C * c.H * c.W, p.w.data(),
                                     p.b.data(), alone.data(), Activation::relu, false, 1);
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), first.end() - ny))
        << describe(c) << " alone";
    // Through the forward entry points with the algorithm forced (no bias; no activation).
    std::vector<float> want_nb(p.dy.size()), got_nb(p.dy.size(), 5.0f);
    conv2d_forward_ref(g, p.x.data(), p.w.data(), nullptr, want_nb.data());
    impl::conv2d_forward_algo<V, Cfg>(g, p.x.data(), p.w.data(), nullptr, got_nb.data(),
                                      Activation::none, 2, impl::ConvAlgo::winograd);
    EXPECT_TRUE(all_close(got_nb, want_nb, tolerance(g))) << describe(c) << " no bias";
    // Outputs at most 16 wide take the narrow vectors there (winograd_narrow_suits): the same
    // floats as this width's.
    std::vector<float> full_width(p.dy.size(), 6.0f);
    impl::winograd_correlate<V, Cfg>(g, p.x.data(), p.w.data(), nullptr, full_width.data(),
                                     Activation::none, false, 2);
    EXPECT_EQ(got_nb, full_width) << describe(c) << " " << blocking << " narrow vectors";
    // Weight gradient: every grouping and thread count against the reference; db null.
    std::vector<float> want_dw(p.w.size()), want_db(c.K);
    conv2d_backward_weight_ref(g, p.x.data(), p.dy.data(), want_dw.data(), want_db.data());
    const float wtol = 2e-5f * (c.N * g.P * g.Q + 1);
    for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{64 * 4 * 16 * 20}}) {
      for (int threads : {1, 2}) {
        const std::string what = describe(c) + " " + blocking + " wgrad group_bytes " +
                                 std::to_string(bytes) + " threads " + std::to_string(threads);
        std::vector<float> dw(p.w.size(), 123.0f), db(c.K, 123.0f);
        impl::winograd_weight_grad<V, Cfg>(g, p.x.data(), p.dy.data(), dw.data(), db.data(),
                                           threads, bytes);
        EXPECT_TRUE(all_close(dw, want_dw, wtol)) << what;
        EXPECT_TRUE(all_close(db, want_db, wtol)) << what;
      }
    }
    std::vector<float> dw(p.w.size(), 123.0f);
    impl::conv2d_backward_weight_algo<V, Cfg>(g, p.x.data(), p.dy.data(), dw.data(), nullptr, 2,
                                              impl::ConvAlgo::winograd);
    EXPECT_TRUE(all_close(dw, want_dw, wtol)) << describe(c) << " wgrad, db null";
    // Input gradient (the adjoint), alone and with the weight gradient in the same pass: against
    // the reference, and the same floats for every grouping, thread count, and an image alone.
    std::vector<float> want_dx(p.x.size());
    conv2d_backward_input_ref(g, p.dy.data(), p.w.data(), want_dx.data());
    std::vector<float> first_dx;
    for (int64_t bytes : {int64_t{0}, int64_t{1}, int64_t{64 * 4 * 16 * 20}}) {
      for (int threads : {1, 2}) {
        for (bool with_dw : {false, true}) {
          const std::string what = describe(c) + " " + blocking + " dgrad group_bytes " +
                                   std::to_string(bytes) + " threads " + std::to_string(threads) +
                                   (with_dw ? " with dw" : "");
          std::vector<float> dx(p.x.size(), 123.0f), dw2(p.w.size(), 123.0f), db(c.K, 123.0f);
          impl::winograd_backward<V, Cfg>(g, p.x.data(), p.w.data(), p.dy.data(), dx.data(),
                                          with_dw ? dw2.data() : nullptr,
                                          with_dw ? db.data() : nullptr, threads, bytes);
          EXPECT_TRUE(all_close(dx, want_dx, tolerance(g))) << what;
          if (first_dx.empty()) first_dx = dx;
          EXPECT_EQ(dx, first_dx) << what << ": differs from the default grouping";
          if (with_dw) {
            EXPECT_TRUE(all_close(dw2, want_dw, wtol)) << what;
            EXPECT_TRUE(all_close(db, want_db, wtol)) << what;
          }
        }
      }
    }
    // The forward's saved transform (with the backward's grouping) in place of x: the same floats
    // as the backward's own, also when forward and backward run on different thread counts.
    for (int64_t bytes : {impl::winograd_wgrad_group_bytes(c.C), int64_t{1}}) {
      const impl::WinogradGrid wg =
          impl::make_winograd_grid<V, Cfg>(c.N, c.C, c.K, g.P, g.Q, bytes);
      const int64_t nsave = impl::winograd_group_count(wg, c.N) * impl::winograd_vt_floats(wg, c.C);
      std::vector<float> saved(nsave, 9.0f), y(p.dy.size());
      impl::winograd_correlate<V, Cfg>(g, p.x.data(), p.w.data(), p.b.data(), y.data(),
                                       Activation::relu, false, 1, bytes, saved.data());
      EXPECT_EQ(y, first) << describe(c) << " " << blocking << ": forward while saving";
      std::vector<float> dx(p.x.size()), dw(p.w.size()), db(c.K), dx2(p.x.size()), dw2(p.w.size()),
          db2(c.K);
      impl::winograd_backward<V, Cfg>(g, nullptr, p.w.data(), p.dy.data(), dx.data(), dw.data(),
                                      db.data(), 2, bytes, saved.data());
      impl::winograd_backward<V, Cfg>(g, p.x.data(), p.w.data(), p.dy.data(), dx2.data(),
                                      dw2.data(), db2.data(), 2, bytes);
      const std::string what =
          describe(c) + " " + blocking + " saved, group_bytes " + std::to_string(bytes);
      EXPECT_EQ(dx, dx2) << what;
      EXPECT_EQ(dw, dw2) << what;
      EXPECT_EQ(db, db2) << what;
      EXPECT_TRUE(all_close(dw, want_dw, wtol)) << what;
    }
    const int64_t nx = c.C * c.H * c.W;
    std::vector<float> alone_dx(nx, 7.0f);
    impl::winograd_backward<V, Cfg>(one, nullptr, p.w.data(), p.dy.data() + (c.N - 1) * ny,
                                    alone_dx.data(), nullptr, nullptr, 1);
    EXPECT_TRUE(std::equal(alone_dx.begin(), alone_dx.end(), first_dx.end() - nx))
        << describe(c) << " dgrad alone";
  }
}

TEST(ConvWinograd, AgreesWithTheReference) {
  check_winograd<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_winograd<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_winograd<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// Winograd F(4x4, 3x3) with the lanes over images (inference), forced on every 3x3 stride-1 case
// and a few more, each as a batch of 2 W + 3 images (two whole blocks of lanes and three images
// left over) on portable vectors of both widths: against the reference (bias, ReLU); the same
// floats for every grouping and thread count; the fused 2x2 max pool bitwise equal to the steps,
// also with NaN inputs; and each image's outputs the same whether it sits in a block of image
// lanes or is left over, alone or with others (the lanes then run over its tiles). Training on
// the two whole blocks and on all 2 W + 3 images (a last block padded with zero images).
template <class V, class Cfg>
void check_winograd4(const char* blocking) {
  constexpr int L = V::W;
  std::vector<ConvCase> cases = conv_cases();
  cases.insert(cases.end(), {
                                {1, 8, 4, 4, 8, 3, 3, 1, 1, 0, 0, 0, 0},      // one output tile
                                {1, 9, 7, 6, 10, 3, 3, 1, 1, 0, 0, 0, 0},     // odd P, even Q
                                {1, 11, 12, 13, 12, 3, 3, 1, 1, 2, 1, 0, 2},  // pad 2 on top
                                {1, 8, 20, 21, 9, 3, 3, 1, 1, 1, 1, 1, 1},    // 5 x 6 tiles
                            });
  uint32_t seed = 4000;
  for (ConvCase c : cases) {
    if (c.sh != 1 || c.sw != 1 || c.R != 3 || c.S != 3) continue;
    c.N = 2 * L + 3;
    Problem p = make_problem(c, seed += 10);
    const Conv2dGeometry& g = p.g;
    const int64_t image = c.C * c.H * c.W, ny = c.K * g.P * g.Q;
    std::vector<float> want(p.dy.size());
    conv2d_forward_ref(g, p.x.data(), p.w.data(), p.b.data(), want.data());
    for (float& v : want) v = std::max(v, 0.0f);
    const auto run = [&](const float* x, int64_t n, bool pool, int threads, int64_t bytes,
                         std::vector<float>& y) {
      Conv2dGeometry gn = g;
      gn.N = n;
      impl::winograd4_correlate<V, Cfg>(gn, x, p.w.data(), p.b.data(), y.data(), Activation::relu,
                                        pool, threads, bytes);
    };
    std::vector<float> first;
    for (int64_t bytes : {int64_t{0}, int64_t{1}}) {  // default groups; one block per group
      for (int threads : {1, 2}) {
        const std::string what = describe(c) + " " + blocking + " group_bytes " +
                                 std::to_string(bytes) + " threads " + std::to_string(threads);
        std::vector<float> got(p.dy.size(), 123.0f);
        run(p.x.data(), c.N, false, threads, bytes, got);
        EXPECT_TRUE(all_close(got, want, tolerance(g))) << what;
        if (first.empty()) first = got;
        EXPECT_EQ(got, first) << what << ": differs from the default grouping";
      }
    }
    // Images on their own (the left-over path): the first, one from the second block, the last;
    // and the last three together.
    for (int64_t i : {int64_t{0}, int64_t{L + 2}, c.N - 1}) {
      std::vector<float> alone(ny, 7.0f);
      run(p.x.data() + i * image, 1, false, 1, 0, alone);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), first.begin() + i * ny))
          << describe(c) << " " << blocking << ": image " << i << " alone";
    }
    std::vector<float> last3(3 * ny, 7.0f);
    run(p.x.data() + (c.N - 3) * image, 3, false, 2, 0, last3);
    EXPECT_TRUE(std::equal(last3.begin(), last3.end(), first.end() - 3 * ny))
        << describe(c) << " " << blocking << ": the last three";
    // Training on the first two blocks, and on the whole batch (its last block padded): the
    // forward saving its transform gives the same floats as inference (whose left-over images
    // run with the lanes over their tiles); the backward, from what was saved or from x, for
    // every thread count and with one of the gradients not wanted, against the reference.
    for (const int64_t nb : {int64_t{2 * L}, c.N}) {
      Conv2dGeometry gb = g;
      gb.N = nb;
      std::vector<float> saved(impl::winograd4_saved_floats<V>(nb, c.C, g.P, g.Q), 5.0f);
      ASSERT_EQ(saved.size(), (nb + L - 1) / L * impl::winograd4_vt_floats<V>(c.C, g.P, g.Q));
      std::vector<float> y(nb * ny, 7.0f);
      impl::winograd4_correlate<V, Cfg>(gb, p.x.data(), p.w.data(), p.b.data(), y.data(),
                                        Activation::relu, false, 2, 0, saved.data());
      EXPECT_TRUE(std::equal(y.begin(), y.end(), first.begin()))
          << describe(c) << " " << blocking << ": saving changed the forward";
      std::vector<float> want_dx(nb * image), want_dw(p.w.size()), want_db(c.K);
      conv2d_backward_input_ref(gb, p.dy.data(), p.w.data(), want_dx.data());
      conv2d_backward_weight_ref(gb, p.x.data(), p.dy.data(), want_dw.data(), want_db.data());
      const float wtol = 2e-5f * (nb * g.P * g.Q + 1);
      for (int threads : {1, 2}) {
        for (bool from_saved : {true, false}) {
          const std::string what = describe(c) + " " + blocking + " backward of " +
                                   std::to_string(nb) + " threads " + std::to_string(threads) +
                                   (from_saved ? " saved" : " from x");
          std::vector<float> dx(nb * image, 3.0f), dw(p.w.size(), 3.0f), db(c.K, 3.0f);
          impl::winograd4_backward<V, Cfg>(gb, from_saved ? nullptr : p.x.data(), p.w.data(),
                                           p.dy.data(), dx.data(), dw.data(), db.data(), threads,
                                           from_saved ? saved.data() : nullptr);
          EXPECT_TRUE(all_close(dx, want_dx, tolerance(g))) << what << " dx";
          EXPECT_TRUE(all_close(dw, want_dw, wtol)) << what << " dw";
          EXPECT_TRUE(all_close(db, want_db, wtol)) << what << " db";
          if (threads != 2 || !from_saved) continue;
          std::vector<float> dx_only(nb * image, 3.0f), dw_only(p.w.size(), 3.0f);
          impl::winograd4_backward<V, Cfg>(gb, nullptr, p.w.data(), p.dy.data(), dx_only.data(),
                                           nullptr, nullptr, threads);
          EXPECT_EQ(dx_only, dx) << what << ": dx alone";
          impl::winograd4_backward<V, Cfg>(gb, from_saved ? nullptr : p.x.data(), nullptr,
                                           p.dy.data(), nullptr, dw_only.data(), nullptr, threads,
                                           from_saved ? saved.data() : nullptr);
          // (Not bitwise dw: with half the work the threads may split it the other way.)
          EXPECT_TRUE(all_close(dw_only, want_dw, wtol)) << what << ": dw alone";
        }
      }
    }
    if (g.P < 2 || g.Q < 2) continue;
    // The fused pool, bitwise the steps' result, with NaNs at a corner, inside and at the end.
    const float nan = std::nanf("");
    p.x[0] = nan;
    p.x[p.x.size() / 2 + c.W / 2] = nan;
    p.x.back() = nan;
    std::vector<float> y(p.dy.size());
    run(p.x.data(), c.N, false, 1, 0, y);
    const Pool2dGeometry pg = pool2x2_of(g);
    std::vector<float> pooled(c.N * c.K * pg.P * pg.Q);
    max_pool2d_forward_ref(pg, y.data(), pooled.data(), nullptr);
    for (int64_t n : {c.N, int64_t{1}}) {  // blocks and left-overs; the first image alone
      std::vector<float> fused(n * c.K * pg.P * pg.Q, 9.0f);
      run(p.x.data(), n, true, 2, 0, fused);
      for (size_t i = 0; i < fused.size(); ++i) {
        ASSERT_EQ(std::isnan(fused[i]), std::isnan(pooled[i]))
            << describe(c) << " " << blocking << " batch " << n << " pooled output " << i;
        if (!std::isnan(pooled[i])) {
          ASSERT_EQ(fused[i], pooled[i])
              << describe(c) << " " << blocking << " batch " << n << " pooled output " << i;
        }
      }
    }
  }
}

TEST(ConvWinograd4, AgreesWithTheReference) {
  check_winograd4<simd::GenericVec<8>, ScalarCfg>("scalar blocking");
  check_winograd4<simd::GenericVec<8>, Avx2Cfg>("avx2 blocking");
  check_winograd4<simd::GenericVec<16>, Avx512Cfg>("avx512 blocking");
}

// Which forwards take F(4x4): 3x3 stride 1 with Winograd's channels, batches of at least a block
// of image lanes, images small enough, and never a forward that saves for the backward.
TEST(ConvWinograd4, ChosenForInferenceOnSmallImagesInWholeBlocks) {
  using V = simd::GenericVec<8>;
  const auto lecture = [](int64_t n) {
    return geometry({n, 25, 13, 13, 50, 3, 3, 1, 1, 0, 0, 0, 0});
  };
  EXPECT_TRUE(impl::use_winograd4<V>(impl::ConvAlgo::automatic, lecture(8), false));
  EXPECT_TRUE(impl::use_winograd4<V>(impl::ConvAlgo::automatic, lecture(256), false));
  EXPECT_FALSE(impl::use_winograd4<V>(impl::ConvAlgo::automatic, lecture(7), false));
  EXPECT_FALSE(impl::use_winograd4<V>(impl::ConvAlgo::automatic, lecture(256), true));
  EXPECT_FALSE(impl::use_winograd4<V>(impl::ConvAlgo::winograd, lecture(256), false));
  EXPECT_TRUE(impl::use_winograd4<V>(impl::ConvAlgo::winograd4, lecture(1), false));
  EXPECT_FALSE(impl::use_winograd4<V>(
      impl::ConvAlgo::automatic, geometry({32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1}), false));
  EXPECT_FALSE(impl::use_winograd4<V>(
      impl::ConvAlgo::automatic, geometry({64, 1, 28, 28, 25, 3, 3, 1, 1, 0, 0, 0, 0}), false));
  EXPECT_FALSE(impl::use_winograd4<V>(
      impl::ConvAlgo::winograd4, geometry({8, 16, 12, 12, 16, 3, 3, 2, 2, 1, 1, 1, 1}), false));
}

// The transformed weights are cached per thread; a weight changed in place (the last float, the
// first, or all of them, as an optimizer step does) must never get a stale transform, also after
// more layers than the cache holds have come and gone.
TEST(ConvWinograd, WeightCacheSeesInPlaceUpdates) {
  using V = simd::GenericVec<8>;
  Problem p = make_problem({2, 9, 8, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1}, 4242);
  const Conv2dGeometry& g = p.g;
  auto check = [&](const char* what) {
    std::vector<float> want(p.dy.size()), got(p.dy.size(), 3.0f);
    conv2d_forward_ref(g, p.x.data(), p.w.data(), p.b.data(), want.data());
    impl::conv2d_forward_algo<V, Avx2Cfg>(g, p.x.data(), p.w.data(), p.b.data(), got.data(),
                                          Activation::none, 1, impl::ConvAlgo::winograd);
    EXPECT_TRUE(all_close(got, want, tolerance(g))) << what;
  };
  check("first call");
  check("cached");
  p.w.back() += 0.5f;
  check("last weight changed");
  p.w.front() -= 0.25f;
  check("first weight changed");
  for (float& v : p.w) v *= 0.9f;
  check("every weight changed");
  for (uint32_t seed = 1; seed <= 6; ++seed) {  // other layers' weights evict the entry
    const std::vector<float> other = random_vector(p.w.size(), seed);
    std::vector<float> y(p.dy.size());
    impl::conv2d_forward_algo<V, Avx2Cfg>(g, p.x.data(), other.data(), nullptr, y.data(),
                                          Activation::none, 1, impl::ConvAlgo::winograd);
  }
  check("after evictions");
}

// Which layers take Winograd: 3x3 stride 1 with >= 8 channels in and out (the lecture net's conv 2
// and its gradients, the 64->64 layer), not conv 1 (one input channel), not other kernels.
TEST(ConvWinograd, ChosenFor3x3LayersWithEnoughChannels) {
  EXPECT_TRUE(impl::use_winograd(impl::ConvAlgo::automatic,
                                 geometry({64, 25, 13, 13, 50, 3, 3, 1, 1, 0, 0, 0, 0})));
  EXPECT_TRUE(impl::use_winograd(impl::ConvAlgo::automatic,
                                 geometry({32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1})));
  EXPECT_FALSE(impl::use_winograd(impl::ConvAlgo::automatic,
                                  geometry({64, 1, 28, 28, 25, 3, 3, 1, 1, 0, 0, 0, 0})));
  EXPECT_FALSE(impl::use_winograd(impl::ConvAlgo::automatic,
                                  geometry({2, 16, 12, 12, 16, 5, 5, 1, 1, 2, 2, 2, 2})));
  EXPECT_FALSE(impl::use_winograd(impl::ConvAlgo::winograd,
                                  geometry({2, 16, 12, 12, 16, 3, 3, 2, 2, 1, 1, 1, 1})));
  EXPECT_FALSE(impl::use_winograd(impl::ConvAlgo::direct,
                                  geometry({64, 25, 13, 13, 50, 3, 3, 1, 1, 0, 0, 0, 0})));
}

// F(2x2) inference on 16 lanes narrows to 8 for outputs at most 16 wide (the small ResNet's 7x7
// and 14x14 layers, the lecture net's 11x11); 8 lanes have nothing narrower.
TEST(ConvWinograd, NarrowVectorsForNarrowOutputs) {
  using V16 = simd::GenericVec<16>;
  EXPECT_TRUE(
      impl::winograd_narrow_suits<V16>(geometry({1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1})));
  EXPECT_TRUE(
      impl::winograd_narrow_suits<V16>(geometry({1, 32, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1})));
  EXPECT_FALSE(
      impl::winograd_narrow_suits<V16>(geometry({1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1})));
  EXPECT_FALSE(impl::winograd_narrow_suits<simd::GenericVec<8>>(
      geometry({1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1})));
}

}  // namespace
