// The general pooling kernels (pool/pool_general_impl.h: any kernel, stride and padding) against
// pool/pool2d_ref.h and the loops of pool/avg_pool2d.h under every ISA and thread count: max
// pooling exactly (values and argmax, ties, -inf planes, NaN), average pooling in both
// count_include_pad modes forward and backward within float rounding (it sums a window's rows
// first, the reference row-major).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pool/avg_pool2d.h"
#include "kernels/pool/avg_pool2d_ref.h"
#include "kernels/pool/pool2d.h"
#include "kernels/pool/pool2d_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class PoolGeneralTest : public pocketcnn::testing::IsaThreadsTest {};

Pool2dGeometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                        int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  Pool2dGeometry g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.kernel_h = kh, g.kernel_w = kw;
  g.stride_h = sh, g.stride_w = sw, g.pad_h = ph, g.pad_w = pw;
  g.P = (H + 2 * ph - kh) / sh + 1;
  g.Q = (W + 2 * pw - kw) / sw + 1;
  return g;
}

// Kernels 1..5 and non-square, strides 1..3 (also larger than the kernel), every legal padding,
// rows shorter and longer than a vector.
std::vector<Pool2dGeometry> geometries() {
  std::vector<Pool2dGeometry> out;
  for (auto [kh, kw] :
       {std::pair<int64_t, int64_t>{1, 1}, {2, 2}, {3, 3}, {2, 3}, {5, 5}, {3, 1}, {4, 2}}) {
    for (auto [sh, sw] : {std::pair<int64_t, int64_t>{1, 1}, {2, 2}, {3, 3}, {1, 2}, {2, 1}}) {
      for (int64_t ph = 0; ph <= kh / 2; ++ph) {
        for (int64_t pw = 0; pw <= kw / 2; ++pw) {
          for (auto [H, W] : {std::pair<int64_t, int64_t>{7, 9}, {12, 37}, {5, 5}}) {
            if (H + 2 * ph < kh || W + 2 * pw < kw) continue;
            out.push_back(geometry(2, 3, H, W, kh, kw, sh, sw, ph, pw));
          }
        }
      }
    }
  }
  out.push_back(geometry(1, 2, 56, 56, 3, 3, 2, 2, 1, 1));  // the ResNet stem's pool
  out.push_back(geometry(4, 6, 28, 28, 2, 2, 2, 2, 0, 0));  // LeNet's
  // One window over the whole plane (pool_global_impl.h): the plan's global pooling of the small
  // ResNet (7x7), a plane longer than a vector, and a 1x1 plane.
  out.push_back(geometry(3, 5, 7, 7, 7, 7, 1, 1, 0, 0));
  out.push_back(geometry(2, 3, 12, 37, 12, 37, 2, 3, 0, 0));
  out.push_back(geometry(2, 4, 1, 1, 1, 1, 1, 1, 0, 0));
  return out;
}

std::string describe(const Pool2dGeometry& g) {
  std::ostringstream o;
  o << "N" << g.N << " C" << g.C << " " << g.H << "x" << g.W << " kernel " << g.kernel_h << "x"
    << g.kernel_w << " stride " << g.stride_h << "x" << g.stride_w << " pad " << g.pad_h << "x"
    << g.pad_w;
  return o.str();
}

bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

void check_max(const Pool2dGeometry& g, const std::vector<float>& x, const char* what) {
  const size_t ny = g.N * g.C * g.P * g.Q;
  std::vector<float> y_ref(ny), y(ny, 7.0f), y2(ny, 7.0f);
  std::vector<int32_t> am_ref(ny), am(ny, -1);
  max_pool2d_forward_ref(g, x.data(), y_ref.data(), am_ref.data());
  max_pool2d_forward(g, x.data(), y.data(), am.data());
  max_pool2d_forward(g, x.data(), y2.data(), nullptr);
  for (size_t i = 0; i < ny; ++i) {
    ASSERT_TRUE(same(y[i], y_ref[i])) << what << " y[" << i << "] " << y[i] << " vs " << y_ref[i];
    ASSERT_TRUE(same(y2[i], y_ref[i])) << what << " (no argmax) y[" << i << "]";
    ASSERT_EQ(am[i], am_ref[i]) << what << " argmax[" << i << "]";
  }
}

TEST_P(PoolGeneralTest, MaxMatchesReferenceExactly) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  for (const Pool2dGeometry& g : geometries()) {
    SCOPED_TRACE(describe(g));
    const size_t n = g.N * g.C * g.H * g.W;
    check_max(g, random_vector(n, static_cast<uint32_t>(n)), "random");
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7) % 3);
    check_max(g, x, "ties");
    for (size_t i = 0; i < n; ++i) x[i] = -inf;
    check_max(g, x, "all -inf (the padding must not win)");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 11 == 3) ? nan : (i % 3 ? -inf : 1.0f);
    check_max(g, x, "NaN and -inf among numbers");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? 0.0f : -0.0f;
    check_max(g, x, "signed zeros");
  }
}

TEST_P(PoolGeneralTest, MaxBackwardFromTheArgmax) {
  for (const Pool2dGeometry& g : geometries()) {
    SCOPED_TRACE(describe(g));
    const size_t n = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.P * g.Q;
    const auto x = random_vector(n, 2), dy = random_vector(ny, 3);
    std::vector<float> y(ny), dx_ref(n), dx(n, 7.0f);
    std::vector<int32_t> am(ny);
    max_pool2d_forward(g, x.data(), y.data(), am.data());
    max_pool2d_backward_ref(g, dy.data(), am.data(), dx_ref.data());
    max_pool2d_backward(g, dy.data(), am.data(), dx.data());
    ASSERT_EQ(dx, dx_ref);
  }
}

TEST_P(PoolGeneralTest, AverageMatchesReferenceInBothPaddingModes) {
  for (const Pool2dGeometry& g : geometries()) {
    SCOPED_TRACE(describe(g));
    const size_t n = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.P * g.Q;
    const auto x = random_vector(n, 4, -2.0f, 2.0f), dy = random_vector(ny, 5);
    for (bool include_pad : {true, false}) {
      SCOPED_TRACE(include_pad ? "count_include_pad" : "exclude pad");
      std::vector<float> y_ref(ny), y(ny, 7.0f), dx_ref(n), dx(n, 7.0f);
      avg_pool2d_forward_ref(g, include_pad, x.data(), y_ref.data());
      avg_pool2d_forward(g, include_pad, x.data(), y.data());
      EXPECT_TRUE(all_close(y, y_ref, 1e-6f, 1e-6f));
      avg_pool2d_backward_ref(g, include_pad, dy.data(), dx_ref.data());
      avg_pool2d_backward(g, include_pad, dy.data(), dx.data());
      EXPECT_TRUE(all_close(dx, dx_ref, 1e-6f, 1e-6f));
    }
  }
}

// The 2x2 / stride 2 average pool sums in the reference's order: equal bit for bit, odd sizes
// (a column and a row in no window) included.
TEST_P(PoolGeneralTest, TwoByTwoAverageEqualsReferenceExactly) {
  for (auto [H, W] : {std::pair<int64_t, int64_t>{28, 28}, {5, 7}, {10, 40}, {3, 3}, {9, 65}}) {
    const Pool2dGeometry g = geometry(3, 4, H, W, 2, 2, 2, 2, 0, 0);
    const size_t n = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.P * g.Q;
    const auto x = random_vector(n, 8), dy = random_vector(ny, 9);
    std::vector<float> y_ref(ny), y(ny, 7.0f), dx_ref(n), dx(n, 7.0f);
    avg_pool2d_forward_ref(g, true, x.data(), y_ref.data());
    avg_pool2d_forward(g, true, x.data(), y.data());
    EXPECT_EQ(y, y_ref) << H << "x" << W;
    avg_pool2d_backward_ref(g, true, dy.data(), dx_ref.data());
    avg_pool2d_backward(g, true, dy.data(), dx.data());
    EXPECT_EQ(dx, dx_ref) << H << "x" << W;
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(PoolGeneralTest);

}  // namespace
