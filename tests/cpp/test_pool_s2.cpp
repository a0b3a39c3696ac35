// The column-stride-2 pooling kernels (pool/pool_s2_impl.h: 3x3 / stride 2 stems and any kernel
// width 2..8) against pool/pool2d_ref.h and pool/avg_pool2d_ref.h under every ISA and thread
// count: planes 1..17 wide and high (narrower than a vector and not a multiple of one), padding 0
// up to half the kernel, the 'same' extra bottom / right row, kernel heights and row strides
// other than the width's. Max pooling exactly (values to the sign of a zero, argmax, ties, -inf
// planes, NaN in some planes only: those are redone by the NaN-aware kernel), its backward bit
// for bit; average pooling within float rounding, forward and backward, both divisor modes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
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

class PoolStride2Test : public pocketcnn::testing::IsaThreadsTest {};

// extra: the 'same' padding's odd extra row / column at the bottom / right (the op's eh, ew).
Pool2dGeometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                        int64_t sh, int64_t ph, int64_t pw, int64_t extra = 0) {
  Pool2dGeometry g{};
  g.N = N, g.C = C, g.H = H, g.W = W, g.kernel_h = kh, g.kernel_w = kw;
  g.stride_h = sh, g.stride_w = 2, g.pad_h = ph, g.pad_w = pw;
  g.P = (H + 2 * ph + extra - kh) / sh + 1;
  g.Q = (W + 2 * pw + extra - kw) / 2 + 1;
  return g;
}

std::vector<Pool2dGeometry> geometries() {
  std::vector<Pool2dGeometry> out;
  for (int64_t H = 1; H <= 17; ++H) {
    for (int64_t W = 1; W <= 17; ++W) {
      for (int64_t pad = 0; pad <= 1; ++pad) {
        for (int64_t extra = 0; extra <= 1; ++extra) {
          if (H + 2 * pad + extra < 3 || W + 2 * pad + extra < 3) continue;
          out.push_back(geometry(2, 3, H, W, 3, 3, 2, pad, pad, extra));
        }
      }
    }
  }
  // Other kernel widths (2 and 4..8, every legal padding), heights and row strides.
  for (int64_t kw = 2; kw <= 8; ++kw) {
    for (int64_t pw = 0; pw <= kw / 2; ++pw) {
      for (int64_t W : {int64_t{5}, int64_t{16}, int64_t{23}, int64_t{40}}) {
        if (W + 2 * pw < kw) continue;
        out.push_back(geometry(2, 2, 9, W, 1 + kw % 4, kw, 1 + kw % 3, (1 + kw % 4) / 2, pw));
      }
    }
  }
  out.push_back(geometry(1, 3, 56, 56, 3, 3, 2, 1, 1));  // the ResNet stem's pool
  out.push_back(geometry(2, 4, 32, 32, 3, 3, 2, 1, 1));  // stem_s2pool's two pools
  out.push_back(geometry(2, 4, 16, 16, 3, 3, 2, 1, 1));
  out.push_back(geometry(2, 2, 55, 55, 3, 3, 2, 0, 0));  // AlexNet's
  return out;
}

std::string describe(const Pool2dGeometry& g) {
  std::ostringstream o;
  o << "N" << g.N << " C" << g.C << " " << g.H << "x" << g.W << " -> " << g.P << "x" << g.Q
    << " kernel " << g.kernel_h << "x" << g.kernel_w << " stride " << g.stride_h << "x"
    << g.stride_w << " pad " << g.pad_h << "x" << g.pad_w;
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
    ASSERT_TRUE(same(y2[i], y_ref[i]))
        << what << " (no argmax) y[" << i << "] " << y2[i] << " vs " << y_ref[i];
    ASSERT_EQ(am[i], am_ref[i]) << what << " argmax[" << i << "]";
  }
  // The backward from that argmax: the reference's scatter, bit for bit.
  const size_t n = x.size();
  const auto dy = random_vector(ny, static_cast<uint32_t>(ny) + 1);
  std::vector<float> dx_ref(n), dx(n, 7.0f);
  max_pool2d_backward_ref(g, dy.data(), am_ref.data(), dx_ref.data());
  max_pool2d_backward(g, dy.data(), am.data(), dx.data());
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(same(dx[i], dx_ref[i])) << what << " dx[" << i << "]";
}

TEST_P(PoolStride2Test, MaxForwardAndBackwardMatchReferenceExactly) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  for (const Pool2dGeometry& g : geometries()) {
    SCOPED_TRACE(describe(g));
    const size_t n = g.N * g.C * g.H * g.W, hw = g.H * g.W;
    check_max(g, random_vector(n, static_cast<uint32_t>(n)), "random");
    std::vector<float> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 7) % 3);
    check_max(g, x, "ties");
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>((i * 5) % 4 == 0);
    check_max(g, x, "ties of ones among zeros");
    for (size_t i = 0; i < n; ++i) x[i] = -inf;
    check_max(g, x, "all -inf (the padding must not win)");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 5 == 1) ? 2.0f : -inf;
    check_max(g, x, "-inf rows and windows among numbers");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? 0.0f : -0.0f;
    check_max(g, x, "signed zeros");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 3 == 1) ? 0.0f : -0.0f;
    check_max(g, x, "signed zeros, shifted");
    for (size_t i = 0; i < n; ++i) x[i] = (i % 2) ? -0.0f : -1.0f;
    check_max(g, x, "negative zeros after -1");
    // NaN in one plane only (the second: the others take the fast kernel), at its first, its
    // last and a middle element; then NaNs among -inf and numbers everywhere.
    for (size_t at : {size_t{0}, hw - 1, hw / 2}) {
      x = random_vector(n, 11);
      x[hw + at] = nan;
      check_max(g, x, "one NaN in plane 1");
    }
    for (size_t i = 0; i < n; ++i) x[i] = (i % 11 == 3) ? nan : (i % 3 ? -inf : 1.0f);
    check_max(g, x, "NaN and -inf among numbers");
  }
}

TEST_P(PoolStride2Test, AverageMatchesReferenceInBothPaddingModes) {
  for (const Pool2dGeometry& g : geometries()) {
    SCOPED_TRACE(describe(g));
    const size_t n = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.P * g.Q;
    const auto x = random_vector(n, 4, -2.0f, 2.0f), dy = random_vector(ny, 5);
    for (bool include_pad : {true, false}) {
      SCOPED_TRACE(include_pad ? "count_include_pad" : "exclude pad");
      std::vector<float> y_ref(ny), y(ny, 7.0f), dx_ref(n), dx(n, 7.0f);
      avg_pool2d_forward_ref(g, include_pad, x.data(), y_ref.data());
      avg_pool2d_forward(g, include_pad, x.data(), y.data());
      ASSERT_TRUE(all_close(y, y_ref, 1e-6f, 1e-6f));
      avg_pool2d_backward_ref(g, include_pad, dy.data(), dx_ref.data());
      avg_pool2d_backward(g, include_pad, dy.data(), dx.data());
      ASSERT_TRUE(all_close(dx, dx_ref, 1e-6f, 1e-6f));
    }
  }
}

// A NaN or inf propagates through the average as in the reference.
TEST_P(PoolStride2Test, AveragePropagatesNaNAndInf) {
  const Pool2dGeometry g = geometry(2, 3, 13, 13, 3, 3, 2, 1, 1);
  const size_t n = g.N * g.C * g.H * g.W, ny = g.N * g.C * g.P * g.Q;
  auto x = random_vector(n, 6);
  x[5] = std::nanf("");
  x[200] = std::numeric_limits<float>::infinity();
  x[n - 1] = -std::numeric_limits<float>::infinity();
  for (bool include_pad : {true, false}) {
    std::vector<float> y_ref(ny), y(ny, 7.0f);
    avg_pool2d_forward_ref(g, include_pad, x.data(), y_ref.data());
    avg_pool2d_forward(g, include_pad, x.data(), y.data());
    for (size_t i = 0; i < ny; ++i) {
      ASSERT_EQ(std::isnan(y[i]), std::isnan(y_ref[i])) << i;
      ASSERT_EQ(std::isinf(y[i]), std::isinf(y_ref[i])) << i;
      if (std::isinf(y[i])) ASSERT_EQ(y[i], y_ref[i]) << i;
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(PoolStride2Test);

}  // namespace
