// run_backward's on_grad_ready: each watched leaf reported once, as soon as its gradient is final.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"

using namespace pocketcnn;

namespace {
// y = a * s with record(), so the tape is tested without any real op.
Tensor scale(const Tensor& a, float s) {
  Tensor y = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) y.data()[i] = a.data()[i] * s;
  return record("scale", y, {a}, [s](const Tensor& g, const std::vector<bool>&) {
    Tensor ga = Tensor::empty(g.shape());
    for (int64_t i = 0; i < g.numel(); ++i) ga.data()[i] = g.data()[i] * s;
    return std::vector<Tensor>{ga};
  });
}

// y = a * b elementwise (a "weight" b), same shapes.
Tensor times(const Tensor& a, const Tensor& b) {
  Tensor y = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) y.data()[i] = a.data()[i] * b.data()[i];
  return record("times", y, {a, b},
                [a = a.detach(), b = b.detach()](const Tensor& g, const std::vector<bool>& need) {
                  Tensor ga, gb;
                  if (need[0]) ga = Tensor::empty(g.shape());
                  if (need[1]) gb = Tensor::empty(g.shape());
                  for (int64_t i = 0; i < g.numel(); ++i) {
                    if (need[0]) ga.data()[i] = g.data()[i] * b.data()[i];
                    if (need[1]) gb.data()[i] = g.data()[i] * a.data()[i];
                  }
                  return std::vector<Tensor>{ga, gb};
                });
}

// y = a + b, same shapes.
Tensor plus(const Tensor& a, const Tensor& b) {
  Tensor y = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) y.data()[i] = a.data()[i] + b.data()[i];
  return record("plus", y, {a, b}, [](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g, g};
  });
}

Tensor leaf(float value) {
  Tensor t = Tensor::full({3}, value);
  t.set_requires_grad(true);
  return t;
}

// The reports of one backward: (watched index, that leaf's gradient[0] when reported).
using Reports = std::vector<std::pair<size_t, float>>;

Reports backward_with_reports(const Tensor& root, const std::vector<Tensor>& watched) {
  Reports reports;
  run_backward(root, Tensor::full(root.shape(), 1.0f), false, watched, [&](size_t i) {
    reports.emplace_back(i, watched[i].grad().defined() ? watched[i].grad().data()[0] : -1.0f);
  });
  return reports;
}
}  // namespace

TEST(GradReady, ALayerChainReportsItsWeightsLastLayerFirst) {
  // y = ((x * w0) * w1) * w2: w2's gradient is final first, w0's last.
  Tensor x = Tensor::full({3}, 2.0f), w0 = leaf(3), w1 = leaf(5), w2 = leaf(7);
  Tensor y = times(times(times(x, w0), w1), w2);
  Reports reports = backward_with_reports(y, {w0, w1, w2});
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0], std::make_pair(size_t{2}, 2.0f * 3 * 5));
  EXPECT_EQ(reports[1], std::make_pair(size_t{1}, 2.0f * 3 * 7));
  EXPECT_EQ(reports[2], std::make_pair(size_t{0}, 2.0f * 5 * 7));
}

TEST(GradReady, ALeafUsedTwiceIsReportedOnceWithItsWholeGradient) {
  // y = x * w + (x * w) * v: w gets two contributions, from two nodes of the graph.
  Tensor x = Tensor::full({3}, 2.0f), w = leaf(3), v = leaf(4);
  Tensor y = plus(times(x, w), times(times(x, w), v));
  Reports reports = backward_with_reports(y, {w, v});
  ASSERT_EQ(reports.size(), 2u);
  const size_t w_at = reports[0].first == 0 ? 0 : 1;
  EXPECT_EQ(reports[w_at].first, 0u);
  EXPECT_FLOAT_EQ(reports[w_at].second, 2.0f + 2.0f * 4);     // both parts: x + x * v
  EXPECT_FLOAT_EQ(w.grad().data()[0], reports[w_at].second);  // nothing added after the report
  EXPECT_EQ(reports[1 - w_at], std::make_pair(size_t{1}, 2.0f * 3));
}

TEST(GradReady, LeavesOutsideTheGraphAreNotReportedAndNoHookChangesNothing) {
  Tensor x = Tensor::full({3}, 2.0f), w = leaf(3), unused = leaf(1);
  Reports reports = backward_with_reports(times(x, w), {unused, w, Tensor()});
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], std::make_pair(size_t{1}, 2.0f));
  EXPECT_FALSE(unused.grad().defined());

  Tensor w2 = leaf(3);  // without a hook: the same gradient
  run_backward(times(x, w2), Tensor::full({3}, 1.0f), false, {w2}, nullptr);
  EXPECT_FLOAT_EQ(w2.grad().data()[0], 2.0f);
}

TEST(GradReady, ARootLeafIsReported) {
  Tensor w = leaf(3);
  Reports reports = backward_with_reports(w, {w});
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], std::make_pair(size_t{0}, 1.0f));
}

TEST(GradReady, AnExceptionFromTheHookEndsTheBackward) {
  Tensor x = Tensor::full({3}, 2.0f), w0 = leaf(3), w1 = leaf(5);
  Tensor y = times(times(x, w0), w1);
  int calls = 0;
  auto fail = [&](size_t) {
    ++calls;
    throw ValueError("hook failed");
  };
  EXPECT_THROW(run_backward(y, Tensor::full({3}, 1.0f), false, {w0, w1}, fail), ValueError);
  EXPECT_EQ(calls, 1);  // w1 reported, then the backward stopped before w0's gradient
  EXPECT_FALSE(w0.grad().defined());
}
