// The conv2d and pooling reference kernels: small hand-computed cases, a naive per-output gather
// as a second opinion on the forward, and adjoint identities that catch index bugs in the
// backward kernels independently of the forward. Plus the ops' checks and tape nodes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/pool/avg_pool2d_ref.h"
#include "kernels/pool/pool2d_ref.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

// Readable names for the parameterised tests (found by argument-dependent lookup).
namespace pocketcnn::kernels {
void PrintTo(const Conv2dGeometry& g, std::ostream* os) {
  *os << "x" << g.N << "x" << g.C << "x" << g.H << "x" << g.W << "_w" << g.K << "x" << g.R << "x"
      << g.S << "_stride" << g.stride_h << "x" << g.stride_w << "_pad" << g.pad_top << "x"
      << g.pad_left;
}
void PrintTo(const Pool2dGeometry& g, std::ostream* os) {
  *os << "x" << g.N << "x" << g.C << "x" << g.H << "x" << g.W << "_k" << g.kernel_h << "x"
      << g.kernel_w << "_stride" << g.stride_h << "x" << g.stride_w << "_pad" << g.pad_h << "x"
      << g.pad_w;
}
}  // namespace pocketcnn::kernels

using namespace pocketcnn;
using kernels::Conv2dGeometry;
using kernels::Pool2dGeometry;

namespace {

std::vector<float> random_vector(int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = dist(gen);
  return v;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

double norm(const std::vector<float>& a) {
  return std::sqrt(dot(a, a));
}

// Geometry with P and Q computed from (possibly asymmetric) padding.
Conv2dGeometry conv_geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R,
                             int64_t S, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                             int64_t pr) {
  return kernels::make_conv2d_geometry({N, C, H, W}, {K, C, R, S}, {sh, sw, pt, pl, pb, pr});
}

Pool2dGeometry pool_geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                             int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  Pool2dGeometry g{N, C, H, W, 0, 0, kh, kw, sh, sw, ph, pw};
  g.P = (H + 2 * ph - kh) / sh + 1;
  g.Q = (W + 2 * pw - kw) / sw + 1;
  return g;
}

// The forward written the other way round: one gather per output with a bounds check per tap.
std::vector<float> conv_gather(const Conv2dGeometry& g, const std::vector<float>& x,
                               const std::vector<float>& w, const float* b) {
  std::vector<float> y(static_cast<size_t>(g.N * g.K * g.P * g.Q));
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          double acc = b ? b[k] : 0.0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t r = 0; r < g.R; ++r)
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t h = p * g.stride_h - g.pad_top + r;
                const int64_t v = q * g.stride_w - g.pad_left + s;
                if (h < 0 || h >= g.H || v < 0 || v >= g.W) continue;
                acc += static_cast<double>(x[((n * g.C + c) * g.H + h) * g.W + v]) *
                       w[((k * g.C + c) * g.R + r) * g.S + s];
              }
          y[((n * g.K + k) * g.P + p) * g.Q + q] = static_cast<float>(acc);
        }
  return y;
}

void expect_near_vectors(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "at index " << i;
}

std::vector<float> iota(int64_t n, float start = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

}  // namespace

// ---- conv2d: hand-computed
// -----------------------------------------------------------------------

TEST(Conv2dRef, DiagonalKernelWithBias) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,1]]: y[p,q] = x[p,q] + x[p+1,q+1] + 0.5.
  const Conv2dGeometry g = conv_geometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0);
  const std::vector<float> x = iota(9), w = {1, 0, 0, 1};
  const float b = 0.5f;
  std::vector<float> y(4);
  kernels::conv2d_forward_ref(g, x.data(), w.data(), &b, y.data());
  EXPECT_EQ(y, (std::vector<float>{6.5f, 8.5f, 12.5f, 14.5f}));
}

TEST(Conv2dRef, PaddingAndStride) {
  // 3x3 ones kernel, padding 1, stride 2 over 1..9: each output sums a corner 2x2 block.
  const Conv2dGeometry g = conv_geometry(1, 1, 3, 3, 1, 3, 3, 2, 2, 1, 1, 1, 1);
  ASSERT_EQ(g.P, 2);
  ASSERT_EQ(g.Q, 2);
  const std::vector<float> x = iota(9), w(9, 1.0f);
  std::vector<float> y(4);
  kernels::conv2d_forward_ref(g, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{12, 16, 24, 28}));
}

TEST(Conv2dRef, AsymmetricPaddingAtBottomRight) {
  // x = [[1,2],[3,4]], 2x2 ones kernel, padding only at the bottom and right (as 'same' does).
  const Conv2dGeometry g = conv_geometry(1, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1);
  const std::vector<float> x = {1, 2, 3, 4}, w(4, 1.0f);
  std::vector<float> y(4);
  kernels::conv2d_forward_ref(g, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{10, 6, 7, 4}));
}

TEST(Conv2dRef, ChannelsMixPerFilter) {
  // 1x1 convolution, C = 2 (channel 0 all 1, channel 1 all 2), K = 2: y_k = w[k,0] + 2 w[k,1].
  const Conv2dGeometry g = conv_geometry(1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const std::vector<float> x = {1, 1, 1, 1, 2, 2, 2, 2}, w = {1, 10, -1, 0.5f};
  std::vector<float> y(8);
  kernels::conv2d_forward_ref(g, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{21, 21, 21, 21, 0, 0, 0, 0}));
}

TEST(Conv2dRef, BackwardInputHandComputed) {
  // Diagonal 2x2 kernel, dy = ones (2x2): dx counts how many outputs read each input.
  const Conv2dGeometry g = conv_geometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0);
  const std::vector<float> dy(4, 1.0f), w = {1, 0, 0, 1};
  std::vector<float> dx(9, -1.0f);  // must be overwritten
  kernels::conv2d_backward_input_ref(g, dy.data(), w.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{1, 1, 0, 1, 2, 1, 0, 1, 1}));
}

TEST(Conv2dRef, BackwardWeightHandComputed) {
  // dy = ones (2x2) over x = 1..9: dw[r,s] sums the 2x2 block at (r,s); db = 4.
  const Conv2dGeometry g = conv_geometry(1, 1, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0);
  const std::vector<float> x = iota(9), dy(4, 1.0f);
  std::vector<float> dw(4, -1.0f);
  float db = -1.0f;
  kernels::conv2d_backward_weight_ref(g, x.data(), dy.data(), dw.data(), &db);
  EXPECT_EQ(dw, (std::vector<float>{12, 16, 24, 28}));
  EXPECT_EQ(db, 4.0f);
  kernels::conv2d_backward_weight_ref(g, x.data(), dy.data(), dw.data(), nullptr);  // no bias
  EXPECT_EQ(dw, (std::vector<float>{12, 16, 24, 28}));
}

// ---- conv2d: random geometries
// -------------------------------------------------------------------

class Conv2dRefRandom : public ::testing::TestWithParam<Conv2dGeometry> {};

TEST_P(Conv2dRefRandom, ForwardMatchesPerOutputGather) {
  const Conv2dGeometry g = GetParam();
  const auto x = random_vector(g.N * g.C * g.H * g.W, 1);
  const auto w = random_vector(g.K * g.C * g.R * g.S, 2);
  const auto b = random_vector(g.K, 3);
  std::vector<float> y(static_cast<size_t>(g.N * g.K * g.P * g.Q));
  kernels::conv2d_forward_ref(g, x.data(), w.data(), b.data(), y.data());
  expect_near_vectors(y, conv_gather(g, x, w, b.data()), 1e-4f);
}

// <conv(x; w), dy> = <x, backward_input(dy; w)> = <w, backward_weight(x, dy)>: each backward is
// the transpose of the forward, so an index bug in either shows up as a mismatch.
TEST_P(Conv2dRefRandom, AdjointIdentities) {
  const Conv2dGeometry g = GetParam();
  const auto x = random_vector(g.N * g.C * g.H * g.W, 4);
  const auto w = random_vector(g.K * g.C * g.R * g.S, 5);
  const auto dy = random_vector(g.N * g.K * g.P * g.Q, 6);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(static_cast<size_t>(g.K));
  kernels::conv2d_forward_ref(g, x.data(), w.data(), nullptr, y.data());
  kernels::conv2d_backward_input_ref(g, dy.data(), w.data(), dx.data());
  kernels::conv2d_backward_weight_ref(g, x.data(), dy.data(), dw.data(), db.data());
  const double lhs = dot(y, dy);
  const double tol = 1e-5 * norm(x) * norm(w) * norm(dy);
  EXPECT_NEAR(lhs, dot(x, dx), tol);
  EXPECT_NEAR(lhs, dot(w, dw), tol);
  for (int64_t k = 0; k < g.K; ++k) {  // db = the sum of dy over n, p, q
    double s = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t i = 0; i < g.P * g.Q; ++i) s += dy[(n * g.K + k) * g.P * g.Q + i];
    EXPECT_NEAR(db[k], s, 1e-4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, Conv2dRefRandom,
    ::testing::Values(conv_geometry(1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 0, 0),
                      conv_geometry(2, 3, 7, 6, 4, 3, 2, 2, 1, 1, 1, 1, 1),
                      conv_geometry(3, 2, 9, 8, 2, 2, 3, 3, 3, 2, 2, 2, 2),
                      conv_geometry(2, 2, 6, 7, 3, 4, 4, 2, 2, 1, 1, 2, 2),  // 'same'-like
                      conv_geometry(1, 2, 3, 3, 2, 4, 4, 1, 1, 1, 1, 1, 1),  // kernel > input
                      conv_geometry(1, 1, 6, 6, 1, 2, 2, 2, 2, 2, 2, 2, 2),  // taps in padding
                      conv_geometry(2, 1, 28, 28, 5, 3, 3, 1, 1, 0, 0, 0, 0),
                      conv_geometry(1, 2, 4, 5, 3, 1, 1, 1, 2, 0, 0, 0, 0),
                      // every padding different, so a top/left or bottom/right mix-up shows
                      conv_geometry(2, 2, 6, 7, 3, 3, 4, 1, 2, 2, 1, 0, 3),
                      conv_geometry(1, 3, 5, 8, 2, 2, 3, 3, 1, 0, 2, 1, 0)));

// ---- pooling: hand-computed
// ----------------------------------------------------------------------

TEST(Pool2dRef, MaxHandComputedWithArgmax) {
  const Pool2dGeometry g = pool_geometry(1, 1, 4, 4, 2, 2, 2, 2, 0, 0);
  const std::vector<float> x = iota(16);
  std::vector<float> y(4);
  std::vector<int32_t> am(4, -1);
  kernels::max_pool2d_forward_ref(g, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<float>{6, 8, 14, 16}));
  EXPECT_EQ(am, (std::vector<int32_t>{5, 7, 13, 15}));
  kernels::max_pool2d_forward_ref(g, x.data(), y.data(), nullptr);  // inference: no argmax
  EXPECT_EQ(y, (std::vector<float>{6, 8, 14, 16}));
}

TEST(Pool2dRef, MaxWithPaddingNeverPicksPadding) {
  // All inputs negative: a zero-padded max would return 0; -inf padding returns a real element.
  const Pool2dGeometry g = pool_geometry(1, 1, 3, 3, 3, 3, 2, 2, 1, 1);
  std::vector<float> x = iota(9, -20.0f);  // -20 .. -12
  std::vector<float> y(4);
  std::vector<int32_t> am(4);
  kernels::max_pool2d_forward_ref(g, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<float>{-16, -15, -13, -12}));
  EXPECT_EQ(am, (std::vector<int32_t>{4, 5, 7, 8}));
}

TEST(Pool2dRef, MaxTiesPickTheFirstAndNanPropagates) {
  const Pool2dGeometry g = pool_geometry(1, 1, 2, 6, 2, 2, 2, 2, 0, 0);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  const std::vector<float> x = {3, 3, 1,   nan, -inf, -inf,  // row 0
                                3, 3, nan, 2,   -inf, -inf};
  std::vector<float> y(3);
  std::vector<int32_t> am(3);
  kernels::max_pool2d_forward_ref(g, x.data(), y.data(), am.data());
  EXPECT_EQ(y[0], 3.0f);
  EXPECT_EQ(am[0], 0);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(am[1], 3);  // the first NaN
  EXPECT_EQ(y[2], -inf);
  EXPECT_EQ(am[2], 4);  // the window's first element
}

TEST(Pool2dRef, AvgHandComputed) {
  const Pool2dGeometry g = pool_geometry(1, 1, 4, 4, 2, 2, 2, 2, 0, 0);
  const std::vector<float> x = iota(16);
  std::vector<float> y(4);
  kernels::avg_pool2d_forward_ref(g, true, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));
}

TEST(Pool2dRef, AvgPaddingDivisor) {
  // x = [[1,2],[3,4]], kernel 3, stride 1, padding 1: every window covers the whole input.
  const Pool2dGeometry g = pool_geometry(1, 1, 2, 2, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> y(4);
  kernels::avg_pool2d_forward_ref(g, true, x.data(), y.data());
  for (float v : y) EXPECT_FLOAT_EQ(v, 10.0f / 9.0f);
  kernels::avg_pool2d_forward_ref(g, false, x.data(), y.data());
  for (float v : y) EXPECT_FLOAT_EQ(v, 2.5f);
  // Backward: each of the 4 outputs spreads dy = 1 over its 4 real elements.
  const std::vector<float> dy(4, 1.0f);
  std::vector<float> dx(4, -1.0f);
  kernels::avg_pool2d_backward_ref(g, false, dy.data(), dx.data());
  for (float v : dx) EXPECT_FLOAT_EQ(v, 1.0f);
  kernels::avg_pool2d_backward_ref(g, true, dy.data(), dx.data());
  for (float v : dx) EXPECT_FLOAT_EQ(v, 4.0f / 9.0f);
}

// ---- pooling: random geometries
// ------------------------------------------------------------------

class Pool2dRefRandom : public ::testing::TestWithParam<Pool2dGeometry> {};

// Each dy goes to its window's argmax, which lies in the window and holds the window's value;
// overlapping windows add up.
TEST_P(Pool2dRefRandom, MaxBackwardRoutesEachGradientToItsArgmax) {
  const Pool2dGeometry g = GetParam();
  const auto x = random_vector(g.N * g.C * g.H * g.W, 7);
  const auto dy = random_vector(g.N * g.C * g.P * g.Q, 8);
  std::vector<float> y(dy.size()), dx(x.size(), 99.0f), expected(x.size(), 0.0f);
  std::vector<int32_t> am(dy.size());
  kernels::max_pool2d_forward_ref(g, x.data(), y.data(), am.data());
  for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
    for (int64_t p = 0; p < g.P; ++p) {
      for (int64_t q = 0; q < g.Q; ++q) {
        const int64_t o = (nc * g.P + p) * g.Q + q;
        const int64_t h = am[o] / g.W, v = am[o] % g.W;
        ASSERT_GE(h, p * g.stride_h - g.pad_h);
        ASSERT_LT(h, p * g.stride_h - g.pad_h + g.kernel_h);
        ASSERT_GE(v, q * g.stride_w - g.pad_w);
        ASSERT_LT(v, q * g.stride_w - g.pad_w + g.kernel_w);
        ASSERT_EQ(y[o], x[nc * g.H * g.W + am[o]]);
        expected[nc * g.H * g.W + am[o]] += dy[o];
      }
    }
  }
  kernels::max_pool2d_backward_ref(g, dy.data(), am.data(), dx.data());
  expect_near_vectors(dx, expected, 1e-5f);
  // y is the true window maximum: no real element of the window exceeds it.
  for (int64_t nc = 0; nc < g.N * g.C; ++nc)
    for (int64_t p = 0; p < g.P; ++p)
      for (int64_t q = 0; q < g.Q; ++q)
        for (int64_t r = 0; r < g.kernel_h; ++r)
          for (int64_t s = 0; s < g.kernel_w; ++s) {
            const int64_t h = p * g.stride_h - g.pad_h + r, v = q * g.stride_w - g.pad_w + s;
            if (h < 0 || h >= g.H || v < 0 || v >= g.W) continue;
            ASSERT_LE(x[(nc * g.H + h) * g.W + v], y[(nc * g.P + p) * g.Q + q]);
          }
}

TEST_P(Pool2dRefRandom, AvgAdjointIdentity) {
  const Pool2dGeometry g = GetParam();
  const auto x = random_vector(g.N * g.C * g.H * g.W, 9);
  const auto dy = random_vector(g.N * g.C * g.P * g.Q, 10);
  for (bool include_pad : {true, false}) {
    std::vector<float> y(dy.size()), dx(x.size());
    kernels::avg_pool2d_forward_ref(g, include_pad, x.data(), y.data());
    kernels::avg_pool2d_backward_ref(g, include_pad, dy.data(), dx.data());
    EXPECT_NEAR(dot(y, dy), dot(x, dx), 1e-5 * norm(x) * norm(dy) * g.kernel_h * g.kernel_w)
        << "count_include_pad=" << include_pad;
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, Pool2dRefRandom,
                         ::testing::Values(pool_geometry(1, 1, 4, 4, 2, 2, 2, 2, 0, 0),
                                           pool_geometry(2, 3, 7, 5, 2, 2, 2, 2, 0, 0),
                                           pool_geometry(2, 2, 7, 7, 3, 3, 2, 2, 1, 1),
                                           pool_geometry(1, 2, 6, 9, 2, 3, 1, 2, 1, 1),
                                           pool_geometry(3, 1, 9, 8, 3, 3, 3, 3, 0, 0),
                                           pool_geometry(1, 1, 5, 5, 4, 4, 1, 1, 2, 2),
                                           pool_geometry(1, 1, 3, 3, 3, 3, 2, 2, 1, 1),
                                           pool_geometry(2, 25, 26, 26, 2, 2, 2, 2, 0, 0)));

// ---- the ops: checks and tape nodes
// --------------------------------------------------------------

TEST(ConvPoolOps, RejectBadArgumentsWithValueError) {
  const Tensor x = Tensor::zeros({2, 3, 5, 5}), w = Tensor::zeros({4, 3, 3, 3});
  Conv2dOptions conv;
  EXPECT_THROW(conv2d(Tensor::zeros({3, 5, 5}), w, Tensor(), conv), ValueError);
  EXPECT_THROW(conv2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), conv), ValueError);
  EXPECT_THROW(conv2d(Tensor::zeros({0, 3, 5, 5}), w, Tensor(), conv), ValueError);
  EXPECT_THROW(conv2d(x, Tensor::zeros({4, 3, 6, 6}), Tensor(), conv), ValueError);
  EXPECT_THROW(conv2d(x, w, Tensor::zeros({3}), conv), ValueError);
  EXPECT_THROW(conv2d(Tensor(), w, Tensor(), conv), TypeError);
  conv.stride_w = 0;
  EXPECT_THROW(conv2d(x, w, Tensor(), conv), ValueError);
  conv.stride_w = 1;
  conv.pad_bottom = -1;
  EXPECT_THROW(conv2d(x, w, Tensor(), conv), ValueError);
  conv.pad_bottom = std::numeric_limits<int64_t>::max();  // must not overflow H + padding
  EXPECT_THROW(conv2d(x, w, Tensor(), conv), ValueError);

  Pool2dOptions pool;
  pool.pad_h = 2;  // > kernel / 2
  EXPECT_THROW(max_pool2d(x, pool), ValueError);
  EXPECT_THROW(avg_pool2d(x, pool), ValueError);
  pool.pad_h = 0;
  pool.kernel_h = pool.kernel_w = 6;
  EXPECT_THROW(max_pool2d(x, pool), ValueError);
  pool.kernel_h = pool.kernel_w = std::numeric_limits<int64_t>::max();
  pool.pad_h = pool.pad_w = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_THROW(max_pool2d(x, pool), ValueError);

  EXPECT_THROW(flatten(x, 4), ValueError);
  EXPECT_THROW(flatten(Tensor::zeros({}), 0), ValueError);
  // No elements, but the merged dims would overflow int64.
  EXPECT_THROW(flatten(Tensor::zeros({0, int64_t{1} << 62, 4}), 1), ValueError);
}

TEST(ConvPoolOps, MessagesNameTheShapes) {
  try {
    conv2d(Tensor::zeros({2, 3, 5, 5}), Tensor::zeros({4, 2, 3, 3}), Tensor(), {});
    FAIL() << "no error";
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3, 5, 5)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4, 2, 3, 3)"), std::string::npos) << msg;
  }
}

TEST(ConvPoolOps, MaxPoolRecordsOnlyWhenNeededAndRoutesGradients) {
  Tensor x = Tensor::from_vector({1, 1, 2, 2}, {1, 4, 3, 2});
  Pool2dOptions opt;
  EXPECT_FALSE(max_pool2d(x, opt).grad_fn());
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, opt);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name, "max_pool2d");
  EXPECT_EQ(y.item(), 4.0f);
  y.backward(Tensor::full({1, 1, 1, 1}, 2.0f));
  EXPECT_EQ(std::vector<float>(x.grad().data(), x.grad().data() + 4),
            (std::vector<float>{0, 2, 0, 0}));
}

TEST(ConvPoolOps, FlattenIsAViewAndReshapesTheGradient) {
  Tensor x = Tensor::from_vector({2, 1, 2, 1}, {1, 2, 3, 4});
  x.set_requires_grad(true);
  Tensor y = flatten(x);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(y.data(), x.data());
  y.backward(Tensor::from_vector({2, 2}, {5, 6, 7, 8}));
  EXPECT_EQ(x.grad().shape(), x.shape());
  EXPECT_EQ(std::vector<float>(x.grad().data(), x.grad().data() + 4),
            (std::vector<float>{5, 6, 7, 8}));
}

TEST(ConvPoolOps, Conv2dBackwardMatchesTheKernels) {
  // The op wires the kernels to the right inputs: compare with calling them directly (the
  // dispatched fast kernels the op uses; they are deterministic, so equality is exact).
  const Conv2dGeometry g = conv_geometry(2, 2, 5, 4, 3, 3, 2, 2, 1, 1, 0, 1, 0);
  Tensor x = Tensor::from_vector({2, 2, 5, 4}, random_vector(80, 11));
  Tensor w = Tensor::from_vector({3, 2, 3, 2}, random_vector(36, 12));
  Tensor b = Tensor::from_vector({3}, random_vector(3, 13));
  for (Tensor* t : {&x, &w, &b}) t->set_requires_grad(true);
  Conv2dOptions opt;
  opt.stride_h = 2;
  opt.pad_top = opt.pad_bottom = 1;
  Tensor y = conv2d(x, w, b, opt);
  ASSERT_EQ(y.shape(), (Shape{2, 3, g.P, g.Q}));
  const auto dy = random_vector(y.numel(), 14);
  y.backward(Tensor::from_vector(y.shape(), dy));
  std::vector<float> dx(80), dw(36), db(3);
  kernels::conv2d_backward_input(g, dy.data(), w.data(), dx.data());
  kernels::conv2d_backward_weight(g, x.data(), dy.data(), dw.data(), db.data());
  EXPECT_EQ(std::vector<float>(x.grad().data(), x.grad().data() + 80), dx);
  EXPECT_EQ(std::vector<float>(w.grad().data(), w.grad().data() + 36), dw);
  EXPECT_EQ(std::vector<float>(b.grad().data(), b.grad().data() + 3), db);
}

TEST(ConvPoolOps, HugeStridesDoNotOverflow) {
  // One output position; the loop-bound arithmetic must not overflow (UBSan checks this).
  const int64_t huge = std::numeric_limits<int64_t>::max();
  Conv2dOptions conv;
  conv.stride_h = conv.stride_w = huge;
  conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = 1;
  const Tensor x = Tensor::from_vector({1, 1, 3, 3}, iota(9));
  Tensor y = conv2d(x, Tensor::from_vector({1, 1, 2, 2}, {1, 10, 100, 1000}), Tensor(), conv);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(y.item(), 1000.0f);  // only the bottom-right tap reaches x[0, 0] = 1
  Pool2dOptions pool;
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride_h = pool.stride_w = huge;
  pool.pad_h = pool.pad_w = 1;
  EXPECT_EQ(max_pool2d(x, pool).item(), 5.0f);
  EXPECT_FLOAT_EQ(avg_pool2d(x, pool).item(), 12.0f / 9.0f);
}
