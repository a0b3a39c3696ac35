// Reference kernels for activations, softmax, losses, elementwise arithmetic, sums and matmul:
// small hand-computed cases, plus the C++ op entry points' checks and gradients' shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/gemm/matmul.h"
#include "kernels/pointwise/broadcast.h"
#include "kernels/pointwise/elementwise_loops.h"
#include "kernels/pointwise/loss.h"
#include "kernels/pointwise/reduce.h"
#include "kernels/pointwise/softmax.h"
#include "kernels/pointwise/softmax_ref.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;

namespace {
using Vec = std::vector<float>;
using Dims = std::vector<int64_t>;

void expect_near(const Vec& got, const Vec& want, float tol = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "at " << i;
}

Vec values(const Tensor& t) {
  return Vec(t.data(), t.data() + t.numel());
}
}  // namespace

// ---- broadcasting geometry ---------------------------------------------------------------------

TEST(Broadcast, ShapeFollowsNumpy) {
  Dims out;
  ASSERT_TRUE(broadcast_shape({3, 1}, {1, 4}, &out));
  EXPECT_EQ(out, (Dims{3, 4}));
  ASSERT_TRUE(broadcast_shape({2, 3, 4}, {4}, &out));
  EXPECT_EQ(out, (Dims{2, 3, 4}));
  ASSERT_TRUE(broadcast_shape({}, {2, 1}, &out));
  EXPECT_EQ(out, (Dims{2, 1}));
  ASSERT_TRUE(broadcast_shape({0, 1}, {1, 5}, &out));
  EXPECT_EQ(out, (Dims{0, 5}));
  EXPECT_FALSE(broadcast_shape({2, 3}, {4}, &out));
  EXPECT_FALSE(broadcast_shape({2, 1}, {3, 1}, &out));
}

TEST(Broadcast, StridesAreZeroAlongBroadcastDims) {
  EXPECT_EQ(broadcast_strides({3, 1}, {3, 4}), (Dims{1, 0}));
  EXPECT_EQ(broadcast_strides({4}, {2, 3, 4}), (Dims{0, 0, 1}));
  EXPECT_EQ(broadcast_strides({2, 3, 4}, {2, 3, 4}), (Dims{12, 4, 1}));
  EXPECT_EQ(broadcast_strides({}, {2, 2}), (Dims{0, 0}));
  EXPECT_EQ(broadcast_strides({2, 1, 4}, {2, 3, 4}), (Dims{4, 0, 1}));
}

TEST(Broadcast, IndexMappingVisitsEveryOutputElementInOrder) {
  // out (2, 3): a (2, 1) -> offsets 0,0,0,1,1,1; b (3,) -> 0,1,2,0,1,2.
  std::vector<int64_t> is, as, bs;
  for_each_index({2, 3}, broadcast_strides({2, 1}, {2, 3}), broadcast_strides({3}, {2, 3}),
                 [&](int64_t i, int64_t ia, int64_t ib) {
                   is.push_back(i);
                   as.push_back(ia);
                   bs.push_back(ib);
                 });
  EXPECT_EQ(is, (Dims{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(as, (Dims{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(bs, (Dims{0, 1, 2, 0, 1, 2}));
  int calls = 0;
  for_each_index({2, 0, 3}, {0, 0, 0}, {0, 0, 0}, [&](int64_t, int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  for_each_index({}, {}, {}, [&](int64_t i, int64_t ia, int64_t) {
    EXPECT_EQ(i, 0);
    EXPECT_EQ(ia, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);  // a 0-d shape has one element
}

// ---- unary and scalar kernels -----------------------------------------------------------------

TEST(ElementwiseRef, UnaryForward) {
  const Vec x{-2.0f, 0.0f, 1.5f};
  Vec y(3);
  unary_forward_loop(UnaryOp::Relu, 3, x.data(), y.data());
  expect_near(y, {0, 0, 1.5f});
  unary_forward_loop(UnaryOp::Sigmoid, 3, x.data(), y.data());
  expect_near(y, {1 / (1 + std::exp(2.0f)), 0.5f, 1 / (1 + std::exp(-1.5f))});
  unary_forward_loop(UnaryOp::Tanh, 3, x.data(), y.data());
  expect_near(y, {std::tanh(-2.0f), 0, std::tanh(1.5f)});
  unary_forward_loop(UnaryOp::Exp, 3, x.data(), y.data());
  expect_near(y, {std::exp(-2.0f), 1, std::exp(1.5f)}, 1e-5f);
  unary_forward_loop(UnaryOp::Neg, 3, x.data(), y.data());
  expect_near(y, {2, 0, -1.5f});
}

TEST(ElementwiseRef, SigmoidDoesNotOverflow) {
  const Vec x{-1e4f, -100.0f, 100.0f, 1e4f};
  Vec y(4);
  unary_forward_loop(UnaryOp::Sigmoid, 4, x.data(), y.data());
  for (float v : y) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[3], 1.0f);
}

TEST(ElementwiseRef, LogOfNonPositiveIsMinusInfOrNan) {
  const Vec x{0.0f, -1.0f, std::exp(1.0f)};
  Vec y(3);
  unary_forward_loop(UnaryOp::Log, 3, x.data(), y.data());
  EXPECT_TRUE(std::isinf(y[0]) && y[0] < 0);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_NEAR(y[2], 1.0f, 1e-6f);
}

TEST(ElementwiseRef, UnaryBackward) {
  const Vec x{-2.0f, 0.0f, 0.5f}, dy{1.0f, 2.0f, 3.0f};
  Vec y(3), dx(3);
  unary_backward_loop(UnaryOp::Relu, 3, x.data(), nullptr, dy.data(), dx.data());
  expect_near(dx, {0, 0, 3});  // 0 at x == 0
  unary_forward_loop(UnaryOp::Sigmoid, 3, x.data(), y.data());
  unary_backward_loop(UnaryOp::Sigmoid, 3, x.data(), y.data(), dy.data(), dx.data());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(dx[i], dy[i] * y[i] * (1 - y[i]), 1e-7f);
  unary_forward_loop(UnaryOp::Tanh, 3, x.data(), y.data());
  unary_backward_loop(UnaryOp::Tanh, 3, x.data(), y.data(), dy.data(), dx.data());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(dx[i], dy[i] * (1 - y[i] * y[i]), 1e-7f);
  unary_forward_loop(UnaryOp::Exp, 3, x.data(), y.data());
  unary_backward_loop(UnaryOp::Exp, 3, x.data(), y.data(), dy.data(), dx.data());
  expect_near(dx, {std::exp(-2.0f), 2, 3 * std::exp(0.5f)}, 1e-6f);
  const Vec xp{0.5f, 2.0f, 4.0f};
  unary_backward_loop(UnaryOp::Log, 3, xp.data(), nullptr, dy.data(), dx.data());
  expect_near(dx, {2, 1, 0.75f});
  unary_backward_loop(UnaryOp::Neg, 3, x.data(), nullptr, dy.data(), dx.data());
  expect_near(dx, {-1, -2, -3});
}

TEST(ElementwiseRef, ScalarForwardAndBackward) {
  const Vec x{1.0f, 2.0f, 4.0f}, dy{1.0f, 1.0f, 2.0f};
  Vec y(3), dx(3);
  scalar_forward(ScalarOp::Add, 3, x.data(), 0.5f, y.data());
  expect_near(y, {1.5f, 2.5f, 4.5f});
  scalar_forward(ScalarOp::Mul, 3, x.data(), -2.0f, y.data());
  expect_near(y, {-2, -4, -8});
  scalar_forward(ScalarOp::RSub, 3, x.data(), 1.0f, y.data());
  expect_near(y, {0, -1, -3});
  scalar_forward(ScalarOp::RDiv, 3, x.data(), 2.0f, y.data());
  expect_near(y, {2, 1, 0.5f});
  scalar_forward(ScalarOp::Pow, 3, x.data(), 0.5f, y.data());
  expect_near(y, {1, std::sqrt(2.0f), 2});

  scalar_backward(ScalarOp::Add, 3, x.data(), 0.5f, dy.data(), dx.data());
  expect_near(dx, {1, 1, 2});
  scalar_backward(ScalarOp::Mul, 3, x.data(), -2.0f, dy.data(), dx.data());
  expect_near(dx, {-2, -2, -4});
  scalar_backward(ScalarOp::RSub, 3, x.data(), 1.0f, dy.data(), dx.data());
  expect_near(dx, {-1, -1, -2});
  scalar_backward(ScalarOp::RDiv, 3, x.data(), 2.0f, dy.data(), dx.data());  // -2 / x^2
  expect_near(dx, {-2, -0.5f, -0.25f});
  scalar_backward(ScalarOp::Pow, 3, x.data(), 3.0f, dy.data(), dx.data());  // 3 x^2
  expect_near(dx, {3, 12, 96});
  const Vec zero{0.0f, 0.0f, 0.0f};
  scalar_backward(ScalarOp::Pow, 3, zero.data(), 0.0f, dy.data(), dx.data());
  expect_near(dx, {0, 0, 0});  // not nan
}

// ---- binary kernels with broadcasting ----------------------------------------------------------

TEST(ElementwiseRef, BinaryForwardBroadcastsColumnAgainstRow) {
  // a (2, 1) = [[1], [2]], b (3,) = [10, 20, 30] -> (2, 3)
  const Vec a{1, 2}, b{10, 20, 30};
  const Dims out{2, 3};
  const Dims sa = broadcast_strides({2, 1}, out), sb = broadcast_strides({3}, out);
  Vec y(6);
  binary_forward(BinaryOp::Add, out, sa, a.data(), sb, b.data(), y.data());
  expect_near(y, {11, 21, 31, 12, 22, 32});
  binary_forward(BinaryOp::Sub, out, sa, a.data(), sb, b.data(), y.data());
  expect_near(y, {-9, -19, -29, -8, -18, -28});
  binary_forward(BinaryOp::Mul, out, sa, a.data(), sb, b.data(), y.data());
  expect_near(y, {10, 20, 30, 20, 40, 60});
  binary_forward(BinaryOp::Div, out, sa, a.data(), sb, b.data(), y.data());
  expect_near(y, {0.1f, 0.05f, 1 / 30.0f, 0.2f, 0.1f, 2 / 30.0f});
}

TEST(ElementwiseRef, BinaryBackwardGivesPerElementPartials) {
  const Vec a{1, 2}, b{4, 5}, dy{1, 3};
  const Dims out{2}, s{1};
  Vec da(2), db(2);
  binary_backward(BinaryOp::Mul, out, s, a.data(), s, b.data(), dy.data(), da.data(), db.data());
  expect_near(da, {4, 15});
  expect_near(db, {1, 6});
  binary_backward(BinaryOp::Div, out, s, a.data(), s, b.data(), dy.data(), da.data(), db.data());
  expect_near(da, {0.25f, 0.6f});
  expect_near(db, {-1.0f / 16, -3 * 2.0f / 25});
  binary_backward(BinaryOp::Sub, out, s, a.data(), s, b.data(), dy.data(), nullptr, db.data());
  expect_near(db, {-1, -3});
}

TEST(ElementwiseRef, BroadcastToRepeatsAlongBroadcastDims) {
  const Vec x{1, 2, 3};
  Vec y(6);
  broadcast_to({2, 3}, broadcast_strides({3}, {2, 3}), x.data(), y.data());
  expect_near(y, {1, 2, 3, 1, 2, 3});
  broadcast_to({3, 2}, broadcast_strides({3, 1}, {3, 2}), x.data(), y.data());
  expect_near(y, {1, 1, 2, 2, 3, 3});
}

// ---- sums ---------------------------------------------------------------------------------------

TEST(ReduceRef, SumToShape) {
  // x (2, 3) = [[1, 2, 3], [4, 5, 6]]
  const Vec x{1, 2, 3, 4, 5, 6};
  Vec cols(3), rows(2), all(1);
  sum_to_shape({2, 3}, x.data(), {3}, cols.data());  // leading dim summed away
  expect_near(cols, {5, 7, 9});
  sum_to_shape({2, 3}, x.data(), {1, 3}, cols.data());
  expect_near(cols, {5, 7, 9});
  sum_to_shape({2, 3}, x.data(), {2, 1}, rows.data());
  expect_near(rows, {6, 15});
  sum_to_shape({2, 3}, x.data(), {}, all.data());
  expect_near(all, {21});
  Vec same(6);
  sum_to_shape({2, 3}, x.data(), {2, 3}, same.data());
  expect_near(same, x);
}

TEST(ReduceRef, SumToShapeMiddleDimAndEmptyInput) {
  // x (2, 2, 2) = 0..7 summed over the middle dim -> (2, 1, 2) = [[0+2, 1+3], [4+6, 5+7]]
  const Vec x{0, 1, 2, 3, 4, 5, 6, 7};
  Vec y(4);
  sum_to_shape({2, 2, 2}, x.data(), {2, 1, 2}, y.data());
  expect_near(y, {2, 4, 10, 12});
  Vec z{9, 9, 9};
  sum_to_shape({0, 3}, nullptr, {1, 3}, z.data());
  expect_near(z, {0, 0, 0});  // overwritten with the empty sum
}

TEST(ReduceRef, SumAccumulatesInDouble) {
  const Vec x(1 << 24, 1.0f);  // float32 accumulation would stall at 2^24 = 16777216
  Vec y(1);
  const Vec more(x.size() + 3, 1.0f);
  sum_to_shape({static_cast<int64_t>(more.size())}, more.data(), {}, y.data());
  EXPECT_EQ(y[0], static_cast<float>(more.size()));
}

// sum_to_shape and broadcast_to take a row loop when only trailing dims are reduced / repeated
// and an index walk otherwise: every way of keeping or dropping each dim of small shapes (sizes
// 0 to 3, so rows of 1 and empty tensors too) against a direct multi-index computation.
TEST(ReduceRef, SumToShapeAndBroadcastToMatchADirectIndexComputation) {
  const std::vector<Dims> shapes{{}, {3}, {2, 3}, {3, 1}, {1, 3}, {2, 0}, {2, 3, 2}, {3, 2, 1, 2}};
  for (const Dims& xs : shapes) {
    const size_t nd = xs.size();
    int64_t n = 1;
    for (int64_t d : xs) n *= d;
    Vec x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[i] = 0.25f * static_cast<float>((i * 7) % 11) - 1.0f;
    for (unsigned mask = 0; mask < (1u << nd); ++mask) {  // bit d set: dim d summed away
      for (size_t drop = 0; drop <= nd; ++drop) {         // leading dims left out of y's shape
        bool droppable = true;
        for (size_t d = 0; d < drop; ++d) droppable = droppable && ((mask >> d) & 1);
        if (!droppable) continue;
        Dims ys;
        for (size_t d = drop; d < nd; ++d) ys.push_back((mask >> d) & 1 ? 1 : xs[d]);
        int64_t ny = 1;
        for (int64_t d : ys) ny *= d;
        Vec want(static_cast<size_t>(ny), 0.0f), back(static_cast<size_t>(n)), got(want.size());
        std::vector<double> acc(want.size(), 0.0);
        for (int64_t i = 0; i < n; ++i) {  // y's flat index of x's element i
          int64_t rest = i, iy = 0, scale = 1;
          for (size_t d = nd; d-- > 0;) {
            const int64_t idx = rest % xs[d];
            rest /= xs[d];
            if (!((mask >> d) & 1)) iy += idx * scale;
            if (d >= drop) scale *= ys[d - drop];
          }
          acc[iy] += x[i];
          back[i] = static_cast<float>(iy) + 0.5f;
        }
        for (size_t j = 0; j < acc.size(); ++j) want[j] = static_cast<float>(acc[j]);
        sum_to_shape(xs, x.data(), ys, got.data());
        EXPECT_EQ(got, want) << "mask " << mask << " drop " << drop << " nd " << nd;
        Vec src(want.size()), spread(static_cast<size_t>(n));
        for (size_t j = 0; j < src.size(); ++j) src[j] = static_cast<float>(j) + 0.5f;
        broadcast_to(xs, broadcast_strides(ys, xs), src.data(), spread.data());
        EXPECT_EQ(spread, back) << "mask " << mask << " drop " << drop << " nd " << nd;
      }
    }
  }
}

// ---- softmax, log_softmax, cross-entropy -----------------------------------------------------

TEST(SoftmaxRef, RowsSumToOneAndMatchHandComputedValues) {
  const Vec x{0, 0, std::log(2.0f), 1, 2, 3};  // (2, 3): softmax along the last dim
  Vec y(6);
  softmax_forward_ref(2, 3, 1, x.data(), y.data());
  expect_near({y[0], y[1], y[2]}, {0.25f, 0.25f, 0.5f});
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(y[r * 3] + y[r * 3 + 1] + y[r * 3 + 2], 1.0f, 1e-6f);
  Vec ly(6);
  log_softmax_forward_ref(2, 3, 1, x.data(), ly.data());
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(ly[i], std::log(y[i]), 1e-6f);
}

TEST(SoftmaxRef, AlongAMiddleDimUsesStrides) {
  // x (1, 2, 2) softmax over dim 1 (outer 1, D 2, inner 2): columns [0, log 3] and [5, 5].
  const Vec x{0, 5, std::log(3.0f), 5};
  Vec y(4);
  softmax_forward_ref(1, 2, 2, x.data(), y.data());
  expect_near(y, {0.25f, 0.5f, 0.75f, 0.5f});
}

TEST(SoftmaxRef, HugeLogitsStayFinite) {
  const Vec x{1e4f, 0, -1e4f};
  Vec y(3), ly(3);
  softmax_forward_ref(1, 3, 1, x.data(), y.data());
  log_softmax_forward_ref(1, 3, 1, x.data(), ly.data());
  expect_near(y, {1, 0, 0});
  expect_near(ly, {0, -1e4f, -2e4f});
}

TEST(SoftmaxRef, Backward) {
  // softmax: dx = y * (dy - <dy, y>); with y = (0.25, 0.25, 0.5), dy = (1, 0, 0): <dy,y> = 0.25.
  const Vec y{0.25f, 0.25f, 0.5f}, dy{1, 0, 0};
  Vec dx(3);
  softmax_backward_ref(1, 3, 1, y.data(), dy.data(), dx.data());
  expect_near(dx, {0.1875f, -0.0625f, -0.125f});
  // log_softmax: dx = dy - softmax * sum(dy)
  const Vec ly{std::log(0.25f), std::log(0.25f), std::log(0.5f)};
  log_softmax_backward_ref(1, 3, 1, ly.data(), dy.data(), dx.data());
  expect_near(dx, {0.75f, -0.25f, -0.5f});
}

TEST(CrossEntropyRef, ForwardAndBackward) {
  // Row 0: logits (0, 0, log 2) -> p = (1/4, 1/4, 1/2), label 2 -> loss log 2.
  // Row 1: logits (0, 0, 0)     -> p = 1/3 each,       label 0 -> loss log 3.
  const Vec logits{0, 0, std::log(2.0f), 0, 0, 0};
  const std::vector<int64_t> labels{2, 0};
  EXPECT_NEAR(cross_entropy_forward(2, 3, logits.data(), labels.data()),
              (std::log(2.0f) + std::log(3.0f)) / 2, 1e-6f);
  Vec d(6);
  cross_entropy_backward(2, 3, logits.data(), labels.data(), 2.0f, d.data());  // g/N = 1
  expect_near(d, {0.25f, 0.25f, -0.5f, 1 / 3.0f - 1, 1 / 3.0f, 1 / 3.0f});
}

TEST(CrossEntropyRef, HugeLogitsAreFinite) {
  const Vec logits{1e4f, 0, -1e4f};
  const std::vector<int64_t> right{0}, wrong{2};
  EXPECT_NEAR(cross_entropy_forward(1, 3, logits.data(), right.data()), 0.0f, 1e-6f);
  EXPECT_NEAR(cross_entropy_forward(1, 3, logits.data(), wrong.data()), 2e4f, 1e-2f);
  Vec d(3);
  cross_entropy_backward(1, 3, logits.data(), wrong.data(), 1.0f, d.data());
  expect_near(d, {1, 0, -1});
}

TEST(MseRef, ForwardAndBackward) {
  const Vec p{1, 2, 3, 4}, t{1, 0, 3, 0};  // squared errors 0, 4, 0, 16 -> mean 5
  EXPECT_FLOAT_EQ(mse_forward(4, p.data(), t.data()), 5.0f);
  Vec dp(4), dt(4);
  mse_backward(4, p.data(), t.data(), 1.0f, dp.data(), dt.data());  // 2 (p - t) / 4
  expect_near(dp, {0, 1, 0, 2});
  expect_near(dt, {0, -1, 0, -2});
  mse_backward(4, p.data(), t.data(), 2.0f, dp.data(), nullptr);
  expect_near(dp, {0, 2, 0, 4});
}

// ---- matmul -----------------------------------------------------------------------------------

TEST(MatmulRef, ForwardAndBothGradients) {
  // a (2, 3) = [[1, 2, 3], [4, 5, 6]], b (3, 2) = [[1, 0], [0, 1], [1, 1]]
  const Vec a{1, 2, 3, 4, 5, 6}, b{1, 0, 0, 1, 1, 1};
  Vec y(4);
  matmul_ref(2, 3, 2, a.data(), b.data(), y.data());
  expect_near(y, {4, 5, 10, 11});
  const Vec dy{1, 0, 0, 1};  // (2, 2)
  Vec da(6), db(6);
  matmul_grad_a_ref(2, 3, 2, dy.data(), b.data(), da.data());  // dy @ b^T
  expect_near(da, {1, 0, 1, 0, 1, 1});
  matmul_grad_b_ref(2, 3, 2, a.data(), dy.data(), db.data());  // a^T @ dy
  expect_near(db, {1, 4, 2, 5, 3, 6});
}

// ---- op entry points: checks, shapes of results and gradients ---------------------------------

TEST(MathOps, BroadcastGradientsAreSummedToInputShapes) {
  Tensor a = Tensor::from_vector({3, 1}, {1, 2, 3});
  Tensor b = Tensor::from_vector({1, 4}, {1, 1, 1, 1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = mul(a, b);
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  sum(y).backward();
  EXPECT_EQ(values(a.grad()), (Vec{4, 4, 4}));     // sum over the 4 columns of b
  EXPECT_EQ(values(b.grad()), (Vec{6, 6, 6, 6}));  // sum over a's rows
  EXPECT_THROW(add(Tensor::zeros({2, 3}), Tensor::zeros({4})), ValueError);
}

TEST(MathOps, CrossEntropyChecksLabels) {
  Tensor logits = Tensor::zeros({2, 3});
  EXPECT_NO_THROW(cross_entropy(logits, {0, 2}));
  EXPECT_THROW(cross_entropy(logits, {0, 3}), ValueError);
  EXPECT_THROW(cross_entropy(logits, {-1, 0}), ValueError);
  EXPECT_THROW(cross_entropy(logits, {0}), ValueError);
  EXPECT_THROW(cross_entropy(Tensor::zeros({0, 3}), {}), ValueError);
  EXPECT_THROW(cross_entropy(Tensor::zeros({3}), {0, 0, 0}), ValueError);
  EXPECT_THROW(cross_entropy(Tensor(), {0}), TypeError);
  try {
    cross_entropy(logits, {0, 7});
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("target[1] = 7"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cross_entropy(logits, {1, 1}).shape(), Shape{});
}

TEST(MathOps, ReshapeSharesDataAndChecksSizes) {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = reshape(x, {3, -1});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(y.data(), x.data());
  EXPECT_THROW(reshape(x, {4, -1}), ValueError);
  EXPECT_THROW(reshape(x, {-1, -1}), ValueError);
  EXPECT_THROW(reshape(x, {5}), ValueError);
  EXPECT_THROW(reshape(x, {-3, -2}), ValueError);
}

TEST(MathOps, SumAndMeanOverDims) {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values(sum(x, {0})), (Vec{5, 7, 9}));
  EXPECT_EQ(sum(x, {-1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(values(mean(x, {1})), (Vec{2, 5}));
  EXPECT_FLOAT_EQ(mean(x).item(), 3.5f);
  EXPECT_EQ(mean(x).shape(), Shape{});
  EXPECT_THROW(sum(x, {2}), ValueError);
  EXPECT_THROW(sum(x, {0, -2}), ValueError);
}

TEST(MathOps, MatmulShapes) {
  EXPECT_EQ(matmul(Tensor::zeros({3}), Tensor::zeros({3, 4})).shape(), (Shape{4}));
  EXPECT_EQ(matmul(Tensor::zeros({2, 3}), Tensor::zeros({3})).shape(), (Shape{2}));
  EXPECT_EQ(matmul(Tensor::zeros({3}), Tensor::zeros({3})).shape(), Shape{});
  EXPECT_THROW(matmul(Tensor::zeros({2, 3}), Tensor::zeros({2, 3})), ValueError);
  EXPECT_THROW(matmul(Tensor::zeros({}), Tensor::zeros({3})), ValueError);
}

TEST(MathOps, NoGradRecordsNothing) {
  Tensor x = Tensor::full({2, 2}, 1.0f);
  x.set_requires_grad(true);
  NoGradGuard guard;
  EXPECT_FALSE(relu(x).grad_fn());
  EXPECT_FALSE(add(x, x).grad_fn());
  EXPECT_FALSE(softmax(x).grad_fn());
  EXPECT_FALSE(reshape(x, {4}).grad_fn());
}
