// The tape: recording, reverse topological order, accumulation, freeing, no_grad.
#include <gtest/gtest.h>

#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

using namespace pocketcnn;

namespace {
// y = a * s, written with record() directly so the tape is tested without any real op.
Tensor scale(const Tensor& a, float s) {
  Tensor y = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) y.data()[i] = a.data()[i] * s;
  return record("scale", y, {a}, [s](const Tensor& g, const std::vector<bool>&) {
    Tensor ga = Tensor::empty(g.shape());
    for (int64_t i = 0; i < g.numel(); ++i) ga.data()[i] = g.data()[i] * s;
    return std::vector<Tensor>{ga};
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
}  // namespace

TEST(Autograd, RecordsOnlyWhenAnInputRequiresGrad) {
  Tensor a = Tensor::full({3}, 1.0f);
  EXPECT_FALSE(scale(a, 2).grad_fn());
  a.set_requires_grad(true);
  Tensor y = scale(a, 2);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->name, "scale");
  EXPECT_TRUE(y.requires_grad());
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor a = Tensor::full({3}, 1.0f);
  a.set_requires_grad(true);
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    EXPECT_FALSE(scale(a, 2).grad_fn());
  }
  EXPECT_TRUE(grad_enabled());
}

TEST(Autograd, ChainRuleAndDiamondAccumulation) {
  // a used twice: y = 2a + 3a  =>  dy/da = 5 (a diamond in the graph).
  Tensor a = Tensor::full({4}, 1.0f);
  a.set_requires_grad(true);
  Tensor y = plus(scale(a, 2), scale(a, 3));
  y.backward(Tensor::full({4}, 1.0f));
  ASSERT_TRUE(a.grad().defined());
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(a.grad().data()[i], 5.0f);
}

TEST(Autograd, InnerTensorUsedManyTimesSumsInPlaceWithoutTouchingAliases) {
  // h is used four times: twice through `plus` (which passes the caller's gradient g through to
  // both inputs, so those gradients alias g and must be copied before summing) and twice through
  // `scale` (fresh gradients, summed in place). dy/da = 1 + 1 + 2 + 3 = 7 per unit of g.
  Tensor a = Tensor::full({5}, 1.0f);
  a.set_requires_grad(true);
  Tensor h = scale(a, 1);
  Tensor y = plus(plus(h, h), plus(scale(h, 2), scale(h, 3)));
  Tensor g = Tensor::full({5}, 0.5f);
  y.backward(g);
  for (int i = 0; i < 5; ++i) {
    EXPECT_FLOAT_EQ(a.grad().data()[i], 3.5f);
    EXPECT_FLOAT_EQ(g.data()[i], 0.5f);  // the caller's gradient is not summed into
  }
}

TEST(Autograd, LeafGradsAccumulateAcrossBackwardCalls) {
  Tensor a = Tensor::full({1}, 1.0f);
  a.set_requires_grad(true);
  scale(a, 2).backward();
  scale(a, 2).backward();
  EXPECT_FLOAT_EQ(a.grad().item(), 4.0f);
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  Tensor a = Tensor::full({1}, 1.0f);
  a.set_requires_grad(true);
  Tensor y = a;
  for (int i = 0; i < 100000; ++i) y = scale(y, 1.0f);
  y.backward();
  EXPECT_FLOAT_EQ(a.grad().item(), 1.0f);
}

TEST(Autograd, DroppingADeepGraphDoesNotOverflowTheStack) {
  Tensor a = Tensor::full({1}, 1.0f);
  a.set_requires_grad(true);
  Tensor y = a;
  for (int i = 0; i < 1000000; ++i) y = scale(y, 1.0f);
  y = Tensor();  // destroys a million nodes
  SUCCEED();
}

TEST(Autograd, SecondBackwardThrowsUnlessRetained) {
  Tensor a = Tensor::full({1}, 1.0f);
  a.set_requires_grad(true);
  Tensor y = scale(a, 3);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_FLOAT_EQ(a.grad().item(), 6.0f);
  EXPECT_THROW(y.backward(), StateError);
}

TEST(Autograd, BackwardChecksItsArguments) {
  Tensor a = Tensor::full({2}, 1.0f);
  EXPECT_THROW(a.backward(), StateError);  // does not require grad
  a.set_requires_grad(true);
  Tensor y = scale(a, 1);
  EXPECT_THROW(y.backward(), ValueError);                         // not one element
  EXPECT_THROW(y.backward(Tensor::full({3}, 1.0f)), ValueError);  // wrong grad shape
}

TEST(Autograd, FreesSavedTensorsAfterBackward) {
  auto owner = std::make_shared<std::vector<float>>(2, 1.0f);
  std::weak_ptr<std::vector<float>> watch = owner;
  Tensor a = Tensor::wrap(owner->data(), {1, 2}, owner);
  owner.reset();
  Tensor w = Tensor::full({1, 2}, 1.0f);
  w.set_requires_grad(true);
  Tensor y = linear(a, w, Tensor());  // saves a's data for the weight gradient
  a = Tensor();
  y.backward();
  EXPECT_TRUE(watch.expired());  // nothing but the graph held a's data, and the graph is freed
}

// A node keeps its inputs' edges, not their data: an intermediate that no backward reads is freed
// as soon as the forward pass drops it (scale's backward needs only its factor), and the gradient
// still flows through it to the leaf.
TEST(Autograd, NodesDoNotKeepTheirInputsData) {
  Tensor a = Tensor::full({3}, 2.0f);
  a.set_requires_grad(true);
  Tensor h = scale(a, 3);  // an intermediate, held only by this variable
  std::weak_ptr<float> watch = h.impl()->data;
  Tensor y = scale(h, 5);
  h = Tensor();
  EXPECT_TRUE(watch.expired());
  y.backward(Tensor::full({3}, 1.0f));
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(a.grad().data()[i], 15.0f);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor a = Tensor::full({1}, 2.0f);
  a.set_requires_grad(true);
  Tensor d = scale(a, 2).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_FALSE(d.grad_fn());
  EXPECT_FLOAT_EQ(d.item(), 4.0f);
}
