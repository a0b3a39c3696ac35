// The fast max-pool kernels (kernels/pool2d.h) against pool2d_ref.h under every ISA and thread
// count: the vectorised 2x2/stride-2 path (odd sizes, ties, -inf, NaN) and the general fallback.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pool/pool2d.h"
#include "kernels/pool/pool2d_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

class PoolFastTest : public pocketcnn::testing::IsaThreadsTest {};

Pool2dGeometry pool(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, int64_t pad) {
  Pool2dGeometry g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.kernel_h = g.kernel_w = k, g.stride_h = g.stride_w = s;
  g.pad_h = g.pad_w = pad;
  g.P = (H + 2 * pad - k) / s + 1;
  g.Q = (W + 2 * pad - k) / s + 1;
  return g;
}

// Exact comparison, NaN == NaN, and a zero's sign counts (it tells which of two tied zeros won).
bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

void check(const Pool2dGeometry& g, std::vector<float> x, const char* what) {
  const size_t ny = g.N * g.C * g.P * g.Q;
  std::vector<float> y_ref(ny), y(ny, 7.0f), y_inf(ny, 7.0f);
  std::vector<int32_t> am_ref(ny), am(ny, -1);
  max_pool2d_forward_ref(g, x.data(), y_ref.data(), am_ref.data());
  max_pool2d_forward(g, x.data(), y.data(), am.data());
  max_pool2d_forward(g, x.data(), y_inf.data(), nullptr);
  for (size_t i = 0; i < ny; ++i) {
    ASSERT_TRUE(same(y[i], y_ref[i])) << what << " y[" << i << "] " << y[i] << " vs " << y_ref[i];
    ASSERT_TRUE(same(y_inf[i], y_ref[i])) << what << " (no argmax) y[" << i << "]";
    ASSERT_EQ(am[i], am_ref[i]) << what << " argmax[" << i << "]";
  }
  const auto dy = random_vector(ny, 3);
  std::vector<float> dx_ref(x.size()), dx(x.size(), 7.0f);
  max_pool2d_backward_ref(g, dy.data(), am_ref.data(), dx_ref.data());
  max_pool2d_backward(g, dy.data(), am_ref.data(), dx.data());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx[i], dx_ref[i]) << what << " dx[" << i << "]";
  if (max_pool2d_keeps_winners(g)) {
    // The winners the training forward keeps must be the reference's argmax, ties and NaN
    // included: the same y, and the same dx from them.
    std::vector<float> y_win(ny, 7.0f), winners(ny, 7.0f), dx2(x.size(), 7.0f);
    max_pool2d_forward_winners(g, x.data(), y_win.data(), winners.data());
    for (size_t i = 0; i < ny; ++i) {
      ASSERT_TRUE(same(y_win[i], y_ref[i])) << what << " (with winners) y[" << i << "]";
      const int64_t plane = static_cast<int64_t>(i) / (g.P * g.Q), pq = i % (g.P * g.Q);
      const int64_t p = pq / g.Q, q = pq % g.Q, k = am_ref[i] - 2 * p * g.W - 2 * q;
      ASSERT_EQ(winners[i], static_cast<float>(k == 0     ? 0
                                               : k == 1   ? 1
                                               : k == g.W ? 2
                                                          : 3))
          << what << " winner[" << i << "] of plane " << plane;
    }
    max_pool2d_backward_from_winners(g, dy.data(), winners.data(), dx2.data());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(dx2[i], dx_ref[i]) << what << " (from winners) dx[" << i << "]";
    }
  }
}

void check_ties_infinities_and_nan(const Pool2dGeometry& g) {
  const size_t n = g.N * g.C * g.H * g.W;
  // Few distinct values: many ties, whose first-in-window rule must match.
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7) % 3);
  check(g, x, "ties");
  // Two values at random: every arrangement of tied maxima in a window (first and last, middle
  // two, ...) turns up.
  std::mt19937 rng(5);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(rng() % 2);
  check(g, x, "ties in every arrangement");
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  for (size_t i = 0; i < n; ++i) x[i] = (i % 5 == 0) ? -inf : (i % 7 == 0 ? nan : -inf);
  check(g, x, "-inf and NaN");
  for (size_t i = 0; i < n; ++i) x[i] = (i % 11 == 3) ? nan : static_cast<float>(i % 4);
  check(g, x, "NaN among numbers");
  for (size_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? 0.0f : -0.0f;  // signed zeros tie
  check(g, x, "signed zeros");
  for (size_t i = 0; i < n; ++i) x[i] = (i % 2) ? nan : -inf;
  check(g, x, "all NaN / -inf windows");
}

TEST_P(PoolFastTest, TwoByTwoMatchesReference) {
  for (auto hw : {std::pair<int64_t, int64_t>{2, 2},
                  {4, 6},
                  {5, 5},
                  {13, 13},
                  {11, 11},
                  {26, 26},
                  {3, 40},
                  {56, 56},
                  {7, 33},
                  {10, 10},    // short rows (5 windows) spilling into the next rows
                  {16, 12},    // 6 windows, 8 rows
                  {9, 40}}) {  // 20 windows: an overlapping last block
    const Pool2dGeometry g = pool(3, 5, hw.first, hw.second, 2, 2, 0);
    check(g,
          random_vector(g.N * g.C * g.H * g.W, static_cast<uint32_t>(hw.first * 100 + hw.second)),
          "random");
  }
}

// Rows of 4 windows (shorter than a vector) and of 21 (whole blocks with an overlapping last one,
// checked for NaNs once per row and redone by the full rule where there is one).
TEST_P(PoolFastTest, TiesInfinitiesAndNaN) {
  for (const int64_t w : {9, 42}) {
    SCOPED_TRACE(w);
    check_ties_infinities_and_nan(pool(2, 3, 6, w, 2, 2, 0));
  }
}

TEST_P(PoolFastTest, OneNaNPerPlane) {
  // One NaN per plane, at a different place in each: its row takes the full rule, the others
  // the plain maxes (a wrong choice either way shows as a different y or winner).
  const Pool2dGeometry g = pool(2, 3, 6, 42, 2, 2, 0);
  for (int at = 0; at < 4; ++at) {
    auto x = random_vector(g.N * g.C * g.H * g.W, 11 + at);
    for (int64_t plane = 0; plane < g.N * g.C; ++plane) {
      x[plane * g.H * g.W + (plane * 37 + at * 53) % (g.H * g.W)] = std::nanf("");
    }
    check(g, x, "one NaN per plane");
  }
}

TEST_P(PoolFastTest, OtherGeometriesMatchReference) {
  for (const Pool2dGeometry& g : {pool(2, 3, 7, 8, 3, 2, 1), pool(1, 4, 9, 9, 3, 3, 0),
                                  pool(2, 2, 6, 6, 2, 1, 0), pool(2, 2, 5, 7, 2, 2, 1)}) {
    check(g, random_vector(g.N * g.C * g.H * g.W, 9), "general");
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(PoolFastTest);

}  // namespace
