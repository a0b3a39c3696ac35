// GraphPlan (the inference plan of graph models) and its residual-sum kernel: the plan equals
// the layer-by-layer ops bit for bit under every ISA and thread count, writes into a buffer only
// when nothing else can see it (never into the caller's input), and refuses bad graphs clearly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/merge_sum.h"
#include "pocketcnn/error.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/inference_graph.h"
#include "pocketcnn/ops.h"
#include "tensor_test_util.h"

using namespace pocketcnn;
using pocketcnn::testing::rand_tensor;
using pocketcnn::testing::random_vector;
using pocketcnn::testing::values;

namespace {

class GraphPlanTest : public pocketcnn::testing::IsaThreadsTest {};

Conv2dOptions same3x3() {
  Conv2dOptions o;
  o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = 1;
  return o;
}

// Bit patterns, so -0 vs +0 and NaN payloads count as differences.
bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

TEST_P(GraphPlanTest, MergeSumEqualsTheReference) {
  // Sizes around the thread split and the k-input block; special values: NaN, -0, +-inf.
  for (int64_t n : {1, 7, 1000, 1025, 70000}) {
    for (int64_t k : {1, 2, 3, 5}) {
      for (bool relu : {false, true}) {
        std::vector<std::vector<float>> xs;
        std::vector<const float*> ptrs;
        for (int64_t i = 0; i < k; ++i) {
          xs.push_back(random_vector(n, static_cast<uint32_t>(100 * i + n)));
          xs.back()[0] = -0.0f;  // -0 + -0 = -0, which ReLU keeps
          if (n > 3) xs.back()[3] = std::numeric_limits<float>::quiet_NaN();
          if (n > 5) xs.back()[5] = i % 2 ? std::numeric_limits<float>::infinity() : 1.0f;
        }
        for (const auto& x : xs) ptrs.push_back(x.data());
        std::vector<float> want(n), got(n);
        kernels::merge_sum_ref(k, ptrs.data(), n, relu, want.data());
        kernels::merge_sum(k, ptrs.data(), n, relu, got.data());
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_TRUE(same_bits(got[i], want[i]) || (std::isnan(got[i]) && std::isnan(want[i])))
              << "n " << n << " k " << k << " relu " << relu << " element " << i;
        }
        // In place: y is any one of the inputs.
        for (int64_t alias = 0; alias < k; ++alias) {
          std::vector<std::vector<float>> copy = xs;
          std::vector<const float*> cptrs;
          for (const auto& x : copy) cptrs.push_back(x.data());
          kernels::merge_sum(k, cptrs.data(), n, relu, copy[alias].data());
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_TRUE(same_bits(copy[alias][i], want[i]) ||
                        (std::isnan(copy[alias][i]) && std::isnan(want[i])))
                << "in place into input " << alias << ", n " << n << " k " << k;
          }
        }
      }
    }
  }
}

// stem conv + relu; block: conv+relu, conv; add(stem, block) + relu; branch 1x1 conv; concat;
// global average pool; dense. The shape of small ResNets and Inception-style concats.
TEST_P(GraphPlanTest, ResidualGraphEqualsTheOps) {
  const Tensor w0 = rand_tensor({6, 3, 3, 3}, 1, 0.3f), b0 = rand_tensor({6}, 2, 0.1f);
  const Tensor w1 = rand_tensor({6, 6, 3, 3}, 3, 0.2f), b1 = rand_tensor({6}, 4, 0.1f);
  const Tensor w2 = rand_tensor({6, 6, 3, 3}, 5, 0.2f);
  const Tensor w3 = rand_tensor({2, 6, 1, 1}, 6, 0.5f), b3 = rand_tensor({2}, 7, 0.1f);
  const Tensor wd = rand_tensor({4, 8}, 8, 0.3f), bd = rand_tensor({4}, 9, 0.1f);
  InferencePlan stem, block, branch, head;
  stem.add_conv2d(w0, b0, same3x3(), "relu");
  block.add_conv2d(w1, b1, same3x3(), "relu");
  block.add_conv2d(w2, Tensor(), same3x3(), "");
  branch.add_conv2d(w3, b3, {}, "");
  Pool2dOptions gap;
  gap.kernel_h = gap.kernel_w = gap.stride_h = gap.stride_w = 9;
  head.add_avg_pool2d(gap);
  head.add_flatten();
  head.add_linear(wd, bd, "softmax");
  GraphPlan plan;
  const int s = plan.add_chain(0, stem);
  const int y = plan.add_chain(s, block);
  const int r = plan.add_sum({s, y}, "relu");
  const int b = plan.add_chain(r, branch);
  const int c = plan.add_concat({r, b}, 1);
  plan.set_output(plan.add_chain(c, head));
  EXPECT_EQ(plan.size(), 6u);
  for (int64_t n : {1, 5}) {
    const Tensor x = rand_tensor({n, 3, 9, 9}, 20 + static_cast<uint32_t>(n));
    const std::vector<float> x_before = values(x);
    const Tensor h = relu(conv2d(x, w0, b0, same3x3()));
    const Tensor t = conv2d(relu(conv2d(h, w1, b1, same3x3())), w2, Tensor(), same3x3());
    const Tensor res = relu(add(h, t));
    const Tensor cat = concat({res, conv2d(res, w3, b3, {})}, 1);
    const Tensor want = softmax(linear(flatten(avg_pool2d(cat, gap), 1), wd, bd), 1);
    const Tensor got = plan.run(x);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(values(got), values(want)) << "batch " << n;
    EXPECT_EQ(values(x), x_before) << "the plan wrote into its input";
  }
}

TEST_P(GraphPlanTest, SumOfTheInputNeverWritesIntoIt) {
  // x + x and x + relu(x): the input is each sum's operand and last reader, but the caller's.
  InferencePlan relu_chain;
  relu_chain.add_activation("relu");
  GraphPlan twice, with_relu;
  twice.set_output(twice.add_sum({0, 0}, "relu"));
  const int r = with_relu.add_chain(0, relu_chain);
  with_relu.set_output(with_relu.add_sum({0, r, 0}, ""));
  const Tensor x = rand_tensor({2, 3, 4, 4}, 30);
  const std::vector<float> before = values(x);
  EXPECT_EQ(values(twice.run(x)), values(relu(add(x, x))));
  EXPECT_EQ(values(with_relu.run(x)), values(add(add(x, relu(x)), x)));
  EXPECT_EQ(values(x), before);
}

TEST_P(GraphPlanTest, IdentityGraphReturnsACopy) {
  GraphPlan plan;
  plan.set_output(plan.add_chain(0, InferencePlan()));
  const Tensor x = rand_tensor({2, 5}, 31);
  const Tensor y = plan.run(x);
  EXPECT_EQ(values(y), values(x));
  EXPECT_NE(y.data(), x.data());
}

TEST_P(GraphPlanTest, SigmoidAfterSumEqualsTheOps) {
  GraphPlan plan;
  InferencePlan tanh_chain;
  tanh_chain.add_activation("tanh");
  const int t = plan.add_chain(0, tanh_chain);
  plan.set_output(plan.add_sum({t, 0}, "sigmoid"));
  const Tensor x = rand_tensor({3, 4}, 32);
  EXPECT_EQ(values(plan.run(x)), values(sigmoid(add(tanh(x), x))));
}

POCKETCNN_INSTANTIATE_ISA_THREADS(GraphPlanTest);

TEST(GraphPlanErrors, BadGraphsAndInputsAreValueErrors) {
  GraphPlan plan;
  EXPECT_THROW(plan.add_sum({0, 2}, "relu"), ValueError);  // slot 2 is not written yet
  EXPECT_THROW(plan.add_sum({}, ""), ValueError);
  EXPECT_THROW(plan.add_sum({0, 0}, "swish"), ValueError);
  EXPECT_THROW(plan.run(Tensor::zeros({1, 2})), ValueError);  // no output set
  InferencePlan flat;
  flat.add_flatten();
  const int f = plan.add_chain(0, flat);
  plan.set_output(plan.add_sum({0, f}, ""));  // (N, C, H, W) + (N, CHW): shapes differ
  EXPECT_THROW(plan.run(Tensor::zeros({1, 2, 3, 3})), ValueError);
  EXPECT_NO_THROW(plan.run(Tensor::zeros({1, 6})));  // flatten of 2-D is the same shape
  EXPECT_THROW(plan.set_output(7), ValueError);
  GraphPlan cat;
  cat.set_output(cat.add_concat({0, 0}, 5));
  EXPECT_THROW(cat.run(Tensor::zeros({1, 2})), ValueError);
  EXPECT_THROW(plan.run(Tensor()), TypeError);
}

}  // namespace
