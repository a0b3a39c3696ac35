// InferencePlan: the fused, compiled forward pass equals the layer-by-layer ops bit for bit, under
// every ISA and thread count, and rejects bad input like the ops do.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "ops/plan_activation.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/memory.h"
#include "pocketcnn/ops.h"
#include "tensor_test_util.h"

using namespace pocketcnn;
using pocketcnn::testing::rand_tensor;
using pocketcnn::testing::random_vector;
using pocketcnn::testing::values;

namespace {

class InferencePlanTest : public pocketcnn::testing::IsaThreadsTest {};

Pool2dOptions pool(int64_t k, int64_t s, int64_t p = 0) {
  Pool2dOptions o;
  o.kernel_h = o.kernel_w = k, o.stride_h = o.stride_w = s, o.pad_h = o.pad_w = p;
  return o;
}

TEST_P(InferencePlanTest, LectureNetEqualsTheOps) {
  const Tensor w1 = rand_tensor({25, 1, 3, 3}, 1, 0.5f), b1 = rand_tensor({25}, 2, 0.1f);
  const Tensor w2 = rand_tensor({50, 25, 3, 3}, 3, 0.1f), b2 = rand_tensor({50}, 4, 0.1f);
  const Tensor w3 = rand_tensor({100, 1250}, 5, 0.03f), b3 = rand_tensor({100}, 6, 0.1f);
  const Tensor w4 = rand_tensor({10, 100}, 7, 0.1f), b4 = rand_tensor({10}, 8, 0.1f);
  InferencePlan plan;
  plan.add_conv2d(w1, b1, {}, "");
  plan.add_max_pool2d(pool(2, 2));
  plan.add_conv2d(w2, b2, {}, "relu");
  plan.add_max_pool2d(pool(2, 2));
  plan.add_flatten();
  plan.add_linear(w3, b3, "relu");
  plan.add_linear(w4, b4, "softmax");
  for (int64_t n : {1, 3, 8}) {
    const Tensor x = rand_tensor({n, 1, 28, 28}, 10 + static_cast<uint32_t>(n));
    Tensor h = max_pool2d(conv2d(x, w1, b1, {}), pool(2, 2));
    h = max_pool2d(relu(conv2d(h, w2, b2, {})), pool(2, 2));
    h = relu(linear(flatten(h, 1), w3, b3));
    const Tensor want = softmax(linear(h, w4, b4), 1);
    const Tensor got = plan.run(x);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(values(got), values(want)) << "batch " << n;
  }
}

TEST_P(InferencePlanTest, OtherLayersAndPaddingsEqualTheOps) {
  const Tensor w1 = rand_tensor({6, 3, 3, 3}, 1, 0.3f), b1 = rand_tensor({6}, 2);
  const Tensor w2 = rand_tensor({4, 6, 2, 2}, 3, 0.3f);
  const Tensor w3 = rand_tensor({5, 6, 3, 3}, 4, 0.3f);
  Conv2dOptions same;  // asymmetric 'same'-style padding: fused path
  same.pad_top = 1, same.pad_left = 1, same.pad_bottom = 1, same.pad_right = 1;
  Conv2dOptions strided;  // stride 2: unfused path
  strided.stride_h = strided.stride_w = 2;
  Conv2dOptions asym;
  asym.pad_bottom = 1, asym.pad_right = 1;
  InferencePlan plan;
  plan.add_conv2d(w1, b1, same, "tanh");  // fused with the pool: pooled, then tanh
  plan.add_max_pool2d(pool(2, 2));
  plan.add_conv2d(w3, Tensor(), asym, "relu");  // fused, no bias, asymmetric padding
  plan.add_max_pool2d(pool(2, 2));
  plan.add_activation("sigmoid");
  const Tensor x = rand_tensor({2, 3, 13, 11}, 20);
  Tensor h = max_pool2d(tanh(conv2d(x, w1, b1, same)), pool(2, 2));
  h = sigmoid(max_pool2d(relu(conv2d(h, w3, Tensor(), asym)), pool(2, 2)));
  EXPECT_EQ(values(plan.run(x)), values(h));

  InferencePlan plan2;
  plan2.add_conv2d(w1, b1, strided, "relu");
  plan2.add_avg_pool2d(pool(2, 1));
  plan2.add_conv2d(w2, Tensor(), {}, "");
  plan2.add_max_pool2d(pool(3, 1, 1));  // not 2x2: unfused
  const Tensor x2 = rand_tensor({3, 3, 16, 15}, 21);
  Tensor h2 = avg_pool2d(relu(conv2d(x2, w1, b1, strided)), pool(2, 1));
  h2 = max_pool2d(conv2d(h2, w2, Tensor(), {}), pool(3, 1, 1));
  EXPECT_EQ(values(plan2.run(x2)), values(h2));
}

// LeNet-5's shape (5x5 convs, tanh / sigmoid, average pooling) and 3x3 convs wide enough for the
// Winograd paths: the activation runs in the conv's output pass, and still gives the ops' floats.
TEST_P(InferencePlanTest, FusedTanhAndSigmoidEqualTheOps) {
  const Tensor w1 = rand_tensor({6, 1, 5, 5}, 1, 0.4f), b1 = rand_tensor({6}, 2, 0.1f);
  const Tensor w2 = rand_tensor({16, 6, 5, 5}, 3, 0.2f), b2 = rand_tensor({16}, 4, 0.1f);
  const Tensor w3 = rand_tensor({10, 256}, 5, 0.1f), b3 = rand_tensor({10}, 6, 0.1f);
  InferencePlan lenet;
  lenet.add_conv2d(w1, b1, {}, "tanh");
  lenet.add_avg_pool2d(pool(2, 2));
  lenet.add_conv2d(w2, b2, {}, "sigmoid");
  lenet.add_avg_pool2d(pool(2, 2));
  lenet.add_flatten();
  lenet.add_linear(w3, b3, "tanh");
  for (int64_t n : {1, 5, 20}) {
    const Tensor x = rand_tensor({n, 1, 28, 28}, 30 + static_cast<uint32_t>(n), 2.0f);
    Tensor h = avg_pool2d(tanh(conv2d(x, w1, b1, {})), pool(2, 2));
    h = avg_pool2d(sigmoid(conv2d(h, w2, b2, {})), pool(2, 2));
    const Tensor want = tanh(linear(flatten(h, 1), w3, b3));
    EXPECT_EQ(values(lenet.run(x)), values(want)) << "batch " << n;
  }
  const Tensor w4 = rand_tensor({32, 16, 3, 3}, 7, 0.2f), b4 = rand_tensor({32}, 8, 0.1f);
  Conv2dOptions same;
  same.pad_top = same.pad_left = same.pad_bottom = same.pad_right = 1;
  for (const char* act : {"tanh", "sigmoid", "relu"}) {
    InferencePlan plan;
    plan.add_conv2d(w4, b4, same, act);
    const Tensor x = rand_tensor({4, 16, 16, 16}, 40, 2.0f);
    const Tensor y = conv2d(x, w4, b4, same);
    const Tensor want = std::string(act) == "tanh"      ? tanh(y)
                        : std::string(act) == "sigmoid" ? sigmoid(y)
                                                        : relu(y);
    EXPECT_EQ(values(plan.run(x)), values(want)) << act;
  }
}

// conv + activation + 2x2 average pool fused (the pool is the conv's epilogue, or after a
// Winograd layer the two steps in one call): odd conv outputs (a row and a column dropped),
// padding, no bias, every fusable activation, and a 3x3 layer wide enough for Winograd.
TEST_P(InferencePlanTest, FusedAveragePoolEqualsTheOps) {
  const Tensor w1 = rand_tensor({9, 3, 5, 5}, 1, 0.3f), b1 = rand_tensor({9}, 2, 0.1f);
  const Tensor w2 = rand_tensor({12, 9, 3, 3}, 3, 0.2f);
  Conv2dOptions pad1;
  pad1.pad_top = pad1.pad_left = pad1.pad_bottom = pad1.pad_right = 1;
  for (const char* act : {"", "relu", "sigmoid", "tanh"}) {
    InferencePlan plan;
    plan.add_conv2d(w1, b1, pad1, act);
    plan.add_avg_pool2d(pool(2, 2));
    plan.add_conv2d(w2, Tensor(), pad1, "tanh");
    plan.add_avg_pool2d(pool(2, 2));
    const auto conv_act = [&](const Tensor& y) {
      const std::string a = act;
      return a == "relu" ? relu(y) : a == "sigmoid" ? sigmoid(y) : a == "tanh" ? tanh(y) : y;
    };
    for (int64_t n : {1, 20}) {
      const Tensor x = rand_tensor({n, 3, 17, 15}, 50 + static_cast<uint32_t>(n), 2.0f);
      Tensor h = avg_pool2d(conv_act(conv2d(x, w1, b1, pad1)), pool(2, 2));
      h = avg_pool2d(tanh(conv2d(h, w2, Tensor(), pad1)), pool(2, 2));
      const Tensor got = plan.run(x);
      ASSERT_EQ(got.shape(), h.shape());
      EXPECT_EQ(values(got), values(h)) << "activation '" << act << "', batch " << n;
    }
  }
}

// The floats' bits: NaN payloads and zero signs compare too (and NaN equals NaN).
std::vector<uint32_t> bits(const Tensor& t) {
  const std::vector<float> v = values(t);
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

// conv + tanh / sigmoid / hard_sigmoid + 2x2 max pool runs as one kernel that pools first and
// activates the pooled quarter (pool_commutes, conv2d.h): still the ops' floats, bit for bit, on
// the direct path (conv 1), F(2x2) (conv 2 at batch 1, 3) and F(4x4) (batch 17), with odd conv
// outputs (25x27, then 10x11), and with NaN / +-inf / saturating inputs.
TEST_P(InferencePlanTest, FusedMaxPoolWithMonotoneActivationsEqualsTheOps) {
  const Tensor w1 = rand_tensor({25, 1, 3, 3}, 1, 0.5f), b1 = rand_tensor({25}, 2, 0.1f);
  const Tensor w2 = rand_tensor({50, 25, 3, 3}, 3, 0.1f), b2 = rand_tensor({50}, 4, 0.1f);
  const Tensor w3 = rand_tensor({100, 1250}, 5, 0.03f), b3 = rand_tensor({100}, 6, 0.1f);
  for (const char* act : {"sigmoid", "tanh", "hard_sigmoid", "relu", ""}) {
    InferencePlan plan;
    plan.add_conv2d(w1, b1, {}, act);
    plan.add_max_pool2d(pool(2, 2));
    plan.add_conv2d(w2, b2, {}, act);
    plan.add_max_pool2d(pool(2, 2));
    plan.add_flatten();
    plan.add_linear(w3, b3, act);
    const auto f = [&](const Tensor& y) { return detail::apply_plan_activation(act, y, false); };
    for (int64_t n : {1, 3, 17}) {
      for (const bool specials : {false, true}) {
        Tensor x = rand_tensor({n, 1, 27, 29}, 60 + static_cast<uint32_t>(n), 3.0f);
        if (specials) {
          const float v[] = {NAN, INFINITY, -INFINITY, 1e20f, -1e20f, 30.0f, -30.0f};
          for (int64_t i = 0; i < n; ++i) {
            for (int k = 0; k < 7; ++k) x.data()[i * 27 * 29 + (i * 131 + k * 97) % 783] = v[k];
          }
        }
        Tensor h = max_pool2d(f(conv2d(x, w1, b1, {})), pool(2, 2));
        h = max_pool2d(f(conv2d(h, w2, b2, {})), pool(2, 2));
        const Tensor want = f(linear(flatten(h, 1), w3, b3));
        const Tensor got = plan.run(x);
        ASSERT_EQ(got.shape(), want.shape());
        EXPECT_EQ(bits(got), bits(want))
            << "activation '" << act << "', batch " << n << (specials ? ", specials" : "");
      }
    }
  }
}

// Which path a conv + 2x2 max pool took, seen from the allocations of a run: the fused kernel
// writes only the pooled output, the two steps also the conv's.
int64_t tensors_allocated(const InferencePlan& plan, const Tensor& x) {
  plan.run(x);  // warm: scratch buffers
  const MemoryStats before = memory_stats();
  plan.run(x);
  const MemoryStats after = memory_stats();
  return (after.hits + after.misses) - (before.hits + before.misses);
}

TEST_P(InferencePlanTest, MaxPoolFusesWhereTheActivationAndBiasCommuteWithIt) {
  const Tensor w = rand_tensor({16, 2, 3, 3}, 1, 0.5f), b = rand_tensor({16}, 2, 0.1f);
  const Tensor x = rand_tensor({4, 2, 40, 40}, 3);  // conv output 370 KB, cached allocations
  const auto count = [&](const char* act, const Tensor& bias) {
    InferencePlan plan;
    plan.add_conv2d(w, bias, {}, act);
    plan.add_max_pool2d(pool(2, 2));
    return tensors_allocated(plan, x);
  };
  const int64_t fused = count("relu", b);  // fused since before issue #16
  ASSERT_GE(fused, 1);
  for (const char* act : {"", "sigmoid", "tanh", "hard_sigmoid"}) {
    EXPECT_EQ(count(act, b), fused) << act;
    EXPECT_EQ(count(act, Tensor()), fused) << act << " no bias";
  }
  for (const char* act : {"silu", "gelu", "leaky_relu", "elu"}) {
    EXPECT_GT(count(act, b), fused) << act << ": does not commute with the pool, two steps";
  }
  // An infinite or -0 bias: two steps (see maxpool_fuses in inference.cpp).
  for (const float special : {INFINITY, -INFINITY, -0.0f}) {
    Tensor b2 = b.clone();
    b2.data()[5] = special;
    EXPECT_GT(count("tanh", b2), fused) << special;
  }
}

// A bias of +inf turns a window's -inf output into NaN, which the pool then returns; pooling
// before adding it would see -inf < 1 and return 1 + inf = inf. The plan keeps the ops' order.
TEST_P(InferencePlanTest, InfiniteBiasKeepsTheOpsNaN) {
  const Tensor w = Tensor::full({1, 1, 1, 1}, 1.0f), b = Tensor::full({1}, INFINITY);
  Tensor x = Tensor::full({1, 1, 2, 2}, 1.0f);
  x.data()[0] = -INFINITY;
  for (const char* act : {"", "relu", "tanh", "sigmoid"}) {
    InferencePlan plan;
    plan.add_conv2d(w, b, {}, act);
    plan.add_max_pool2d(pool(2, 2));
    const Tensor got = plan.run(x);
    const Tensor want =
        max_pool2d(detail::apply_plan_activation(act, conv2d(x, w, b, {}), false), pool(2, 2));
    ASSERT_TRUE(std::isnan(values(want)[0])) << act;
    EXPECT_EQ(bits(got), bits(want)) << act;
  }
}

TEST_P(InferencePlanTest, BadInputRaisesLikeTheOps) {
  InferencePlan plan;
  plan.add_conv2d(rand_tensor({4, 3, 3, 3}, 1), Tensor(), {}, "relu");
  plan.add_max_pool2d(pool(2, 2));
  EXPECT_THROW(plan.run(rand_tensor({1, 2, 8, 8}, 2)), ValueError);  // wrong channels
  EXPECT_THROW(plan.run(rand_tensor({1, 3, 3, 3}, 2)), ValueError);  // too small to pool
  EXPECT_THROW(plan.run(rand_tensor({3, 8, 8}, 2)), ValueError);     // not 4-D
  EXPECT_THROW(plan.add_activation("mish"), ValueError);
  EXPECT_TRUE(grad_enabled());  // run() restored grad mode
}

POCKETCNN_INSTANTIATE_ISA_THREADS(InferencePlanTest);

}  // namespace
