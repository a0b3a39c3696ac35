// The vectorised softmax / log-softmax (pointwise/softmax.h) against the plain loops of
// pointwise/softmax_ref.h (float64
// sums) under every ISA and thread count, over the last axis (inner == 1) and across channels
// (inner > 1), with huge logits, -inf entries and NaN rows. Stated error: softmax within
// 1e-5 relative (4 ulp measured for D <= 1000), log-softmax within 2e-6 (1 + |y|) absolute;
// the backward within 1e-5 of the gradient's scale.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/softmax.h"
#include "kernels/pointwise/softmax_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

class SoftmaxFastTest : public pocketcnn::testing::IsaThreadsTest {};

struct Shape3 {
  int64_t outer, D, inner;
};

const Shape3 kShapes[] = {{7, 10, 1}, {3, 1000, 1}, {5, 33, 1},  {4, 1, 1},   {2, 6, 784},
                          {4, 3, 5},  {1, 1, 1},    {2, 17, 19}, {64, 10, 1}, {3, 40, 16}};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, bool log,
                  const char* what, double* worst_rel) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << " [" << i << "] = " << got[i] << ", want NaN";
      continue;
    }
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double tol = log ? 2e-6 * (1.0 + std::fabs(want[i])) : 1e-5 * std::fabs(want[i]) + 1e-38;
    ASSERT_LE(d, tol) << what << " [" << i << "] got " << got[i] << " want " << want[i];
    if (!log && want[i] > 1e-30f) *worst_rel = std::max(*worst_rel, d / want[i]);
  }
}

TEST_P(SoftmaxFastTest, ForwardMatchesReference) {
  double worst = 0.0;
  for (const Shape3& s : kShapes) {
    const int64_t n = s.outer * s.D * s.inner;
    for (float scale : {1.0f, 5.0f, 1e4f}) {
      const auto x = random_vector(n, static_cast<uint32_t>(n + s.D), -scale, scale);
      for (bool log : {false, true}) {
        std::vector<float> want(n), got(n, 7.0f);
        (log ? log_softmax_forward_ref : softmax_forward_ref)(s.outer, s.D, s.inner, x.data(),
                                                              want.data());
        softmax_forward(log, s.outer, s.D, s.inner, x.data(), got.data());
        SCOPED_TRACE(::testing::Message() << s.outer << "x" << s.D << "x" << s.inner << " scale "
                                          << scale << (log ? " log" : ""));
        expect_close(got, want, log, "forward", &worst);
      }
    }
  }
  std::printf("  softmax max relative error %.3g\n", worst);
}

TEST_P(SoftmaxFastTest, InfinitiesAndNanAsTheReference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  for (const Shape3& s : {Shape3{6, 20, 1}, Shape3{4, 6, 21}}) {  // >= 4 slabs
    const int64_t n = s.outer * s.D * s.inner;
    auto x = random_vector(n, 3, -3.0f, 3.0f);
    // Slab 0: some -inf entries (probability 0); slab 1: a NaN; slab 2: all -inf; slab 3: +inf.
    const int64_t slab = s.D * s.inner;
    for (int64_t i = 0; i < slab; i += 3) x[i] = -inf;
    x[slab + 5] = nan;
    for (int64_t i = 0; i < slab; ++i) x[2 * slab + i] = -inf;
    x[3 * slab + 2] = inf;
    for (bool log : {false, true}) {
      std::vector<float> want(n), got(n, 7.0f);
      (log ? log_softmax_forward_ref : softmax_forward_ref)(s.outer, s.D, s.inner, x.data(),
                                                            want.data());
      softmax_forward(log, s.outer, s.D, s.inner, x.data(), got.data());
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(want[i]) || std::isinf(want[i])) {
          ASSERT_TRUE((std::isnan(got[i]) && std::isnan(want[i])) || got[i] == want[i])
              << (log ? "log " : "") << "[" << i << "] got " << got[i] << " want " << want[i];
        } else {
          ASSERT_NEAR(got[i], want[i], 2e-6 * (1 + std::fabs(want[i]))) << "[" << i << "]";
        }
      }
    }
  }
}

TEST_P(SoftmaxFastTest, BackwardMatchesReference) {
  for (const Shape3& s : kShapes) {
    const int64_t n = s.outer * s.D * s.inner;
    const auto x = random_vector(n, 5, -4.0f, 4.0f), dy = random_vector(n, 6);
    for (bool log : {false, true}) {
      std::vector<float> y(n), want(n), got(n, 7.0f);
      (log ? log_softmax_forward_ref : softmax_forward_ref)(s.outer, s.D, s.inner, x.data(),
                                                            y.data());
      (log ? log_softmax_backward_ref : softmax_backward_ref)(s.outer, s.D, s.inner, y.data(),
                                                              dy.data(), want.data());
      softmax_backward(log, s.outer, s.D, s.inner, y.data(), dy.data(), got.data());
      SCOPED_TRACE(::testing::Message()
                   << s.outer << "x" << s.D << "x" << s.inner << (log ? " log" : ""));
      EXPECT_TRUE(pocketcnn::testing::all_close(got, want, 1e-5f, 1e-5f));
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(SoftmaxFastTest);

}  // namespace
