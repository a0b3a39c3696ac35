// Large batches through the inference plans run in chunks of images, on all threads
// (src/plan_chunks.h): the result equals the layer-by-layer ops on the whole batch bit for bit,
// under every ISA and thread count, whatever the remainder chunk; errors and grad mode are as for
// an unchunked run; a concat along the batch axis is never chunked.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernel_test_util.h"
#include "plan_chunks.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/inference_graph.h"
#include "pocketcnn/ops.h"
#include "tensor_test_util.h"

using namespace pocketcnn;
using pocketcnn::testing::rand_tensor;
using pocketcnn::testing::values;

namespace {

class PlanChunksTest : public pocketcnn::testing::IsaThreadsTest {};

Conv2dOptions padded(int64_t p, int64_t stride = 1) {
  Conv2dOptions o;
  o.stride_h = o.stride_w = stride;
  o.pad_top = o.pad_left = o.pad_bottom = o.pad_right = p;
  return o;
}

Pool2dOptions pool(int64_t k, int64_t s, int64_t p = 0) {
  Pool2dOptions o;
  o.kernel_h = o.kernel_w = k, o.stride_h = o.stride_w = s, o.pad_h = o.pad_w = p;
  return o;
}

// Batch sizes: unchunked (31), chunks of 16 exactly (32, 64), a remainder of 1 and of 15 images.
const int64_t kBatches[] = {31, 32, 33, 47, 64};

TEST_P(PlanChunksTest, SequentialPlanEqualsTheOpsOnTheWholeBatch) {
  // 3x3 'same' conv 3->8 + relu + 2x2 max pool (fused), 3x3 conv 8->8 (Winograd, whose F(4x4)
  // works on blocks of images), 1x1 conv, 3x3 stride-2 max pool, 3x3 stride-2 conv + tanh +
  // 2x2 average pool (fused), flatten, dense (on the whole batch) + softmax.
  const Tensor w1 = rand_tensor({8, 3, 3, 3}, 1, 0.4f), b1 = rand_tensor({8}, 2, 0.1f);
  const Tensor w2 = rand_tensor({8, 8, 3, 3}, 3, 0.2f), b2 = rand_tensor({8}, 4, 0.1f);
  const Tensor w3 = rand_tensor({12, 8, 1, 1}, 5, 0.3f), b3 = rand_tensor({12}, 6, 0.1f);
  const Tensor w4 = rand_tensor({6, 12, 3, 3}, 7, 0.2f), b4 = rand_tensor({6}, 8, 0.1f);
  const Tensor wd = rand_tensor({10, 6}, 9, 0.3f), bd = rand_tensor({10}, 10, 0.1f);
  InferencePlan plan;
  plan.add_conv2d(w1, b1, padded(1), "relu");
  plan.add_max_pool2d(pool(2, 2));
  plan.add_conv2d(w2, b2, padded(1), "relu");
  plan.add_conv2d(w3, b3, {}, "");
  plan.add_max_pool2d(pool(3, 2, 1));
  plan.add_conv2d(w4, b4, padded(1, 2), "tanh");
  plan.add_avg_pool2d(pool(2, 2));
  plan.add_flatten();
  plan.add_linear(wd, bd, "softmax");
  for (int64_t n : kBatches) {
    const Tensor x = rand_tensor({n, 3, 16, 16}, 20 + static_cast<uint32_t>(n));
    const std::vector<float> x_before = values(x);
    Tensor h = max_pool2d(relu(conv2d(x, w1, b1, padded(1))), pool(2, 2));
    h = max_pool2d(conv2d(relu(conv2d(h, w2, b2, padded(1))), w3, b3, {}), pool(3, 2, 1));
    h = avg_pool2d(tanh(conv2d(h, w4, b4, padded(1, 2))), pool(2, 2));
    const Tensor want = softmax(linear(flatten(h, 1), wd, bd), 1);
    const Tensor got = plan.run(x);
    ASSERT_EQ(got.shape(), want.shape()) << "batch " << n;
    EXPECT_EQ(values(got), values(want)) << "batch " << n;
    EXPECT_EQ(values(x), x_before) << "the plan wrote into its input";
  }
}

// The first n images of x, as a batch of their own.
Tensor first_images(const Tensor& x, int64_t n) {
  Shape s = x.shape();
  const int64_t image = x.numel() / s[0];
  s[0] = n;
  return Tensor::from_vector(s, {x.data(), x.data() + n * image});
}

TEST_P(PlanChunksTest, ConvGivesAnImageTheSameFloatsInEveryBatchOfAChunkOrMore) {
  // What the chunked plans rest on: from kPlanChunkImages images up, no batch-size-dependent
  // choice of a conv path (Winograd F(4x4) image blocks, im2col pixel-major or stacked, ...)
  // changes an image's floats. Small outputs of strided layers (1, 2 and 4 pixels) included.
  struct Case {
    int64_t C, H, W, K, R, S, stride, pad;
  };
  const Case cases[] = {{12, 4, 4, 6, 3, 3, 2, 1},   {8, 2, 2, 6, 3, 3, 2, 1},
                        {8, 4, 2, 5, 3, 3, 2, 1},    {3, 16, 16, 8, 3, 3, 1, 1},
                        {8, 8, 8, 8, 3, 3, 1, 1},    {16, 8, 8, 32, 3, 3, 2, 1},
                        {6, 14, 14, 16, 5, 5, 1, 0}, {8, 6, 6, 12, 1, 1, 1, 0},
                        {4, 9, 9, 7, 2, 2, 2, 0},    {3, 32, 32, 32, 3, 3, 2, 1}};
  const int64_t batches[] = {16, 17, 31, 32, 64};
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const Tensor w = rand_tensor({c.K, c.C, c.R, c.S}, ++seed, 0.3f);
    const Tensor b = rand_tensor({c.K}, ++seed, 0.1f);
    const Tensor x = rand_tensor({64, c.C, c.H, c.W}, ++seed);
    const std::vector<float> want =
        values(first_images(conv2d(x, w, b, padded(c.pad, c.stride)), 16));
    for (int64_t n : batches) {
      const Tensor y = conv2d(first_images(x, n), w, b, padded(c.pad, c.stride));
      EXPECT_EQ(values(first_images(y, 16)), want)
          << c.C << "->" << c.K << " " << c.R << "x" << c.S << " stride " << c.stride << " on "
          << c.H << "x" << c.W << ", batch " << n;
    }
  }
}

TEST_P(PlanChunksTest, PlanWithoutDenseLayerAndActivationOnTheInput) {
  // The first step reads the caller's input (not in place); no dense layer: every step chunked.
  const Tensor w = rand_tensor({4, 2, 3, 3}, 1, 0.4f), b = rand_tensor({4}, 2, 0.1f);
  InferencePlan plan;
  plan.add_activation("sigmoid");
  plan.add_conv2d(w, b, {}, "relu");
  for (int64_t n : kBatches) {
    const Tensor x = rand_tensor({n, 2, 7, 5}, 40 + static_cast<uint32_t>(n));
    const std::vector<float> x_before = values(x);
    const Tensor want = relu(conv2d(sigmoid(x), w, b, {}));
    EXPECT_EQ(values(plan.run(x)), values(want)) << "batch " << n;
    EXPECT_EQ(values(x), x_before);
  }
}

TEST_P(PlanChunksTest, GraphPlanEqualsTheOpsOnTheWholeBatch) {
  // conv + relu; a residual block (conv + relu, conv) added to it with relu; a 1x1 branch
  // concatenated over the channels; global average pool; dense.
  const Tensor w0 = rand_tensor({8, 3, 3, 3}, 1, 0.3f), b0 = rand_tensor({8}, 2, 0.1f);
  const Tensor w1 = rand_tensor({8, 8, 3, 3}, 3, 0.2f), b1 = rand_tensor({8}, 4, 0.1f);
  const Tensor w2 = rand_tensor({8, 8, 3, 3}, 5, 0.2f);
  const Tensor w3 = rand_tensor({2, 8, 1, 1}, 6, 0.5f), b3 = rand_tensor({2}, 7, 0.1f);
  const Tensor wd = rand_tensor({4, 10}, 8, 0.3f), bd = rand_tensor({4}, 9, 0.1f);
  InferencePlan stem, block, branch, head;
  stem.add_conv2d(w0, b0, padded(1), "relu");
  block.add_conv2d(w1, b1, padded(1), "relu");
  block.add_conv2d(w2, Tensor(), padded(1), "");
  branch.add_conv2d(w3, b3, {}, "");
  head.add_avg_pool2d(pool(8, 8));
  head.add_flatten();
  head.add_linear(wd, bd, "");
  GraphPlan plan;
  const int s = plan.add_chain(0, stem);
  const int r = plan.add_sum({s, plan.add_chain(s, block)}, "relu");
  const int c = plan.add_concat({r, plan.add_chain(r, branch)}, 1);
  plan.set_output(plan.add_chain(c, head));
  for (int64_t n : kBatches) {
    const Tensor x = rand_tensor({n, 3, 8, 8}, 60 + static_cast<uint32_t>(n));
    const Tensor h = relu(conv2d(x, w0, b0, padded(1)));
    const Tensor t = conv2d(relu(conv2d(h, w1, b1, padded(1))), w2, Tensor(), padded(1));
    const Tensor res = relu(add(h, t));
    const Tensor cat = concat({res, conv2d(res, w3, b3, {})}, 1);
    const Tensor want = linear(flatten(avg_pool2d(cat, pool(8, 8)), 1), wd, bd);
    const Tensor got = plan.run(x);
    ASSERT_EQ(got.shape(), want.shape()) << "batch " << n;
    EXPECT_EQ(values(got), values(want)) << "batch " << n;
  }
}

TEST_P(PlanChunksTest, ConcatAlongTheBatchIsNotChunked) {
  // [x, relu(x)] along dim 0: chunked, the halves would interleave chunk by chunk.
  InferencePlan relu_chain;
  relu_chain.add_activation("relu");
  GraphPlan plan;
  plan.set_output(plan.add_concat({0, plan.add_chain(0, relu_chain)}, 0));
  const Tensor x = rand_tensor({40, 3}, 70);
  EXPECT_EQ(values(plan.run(x)), values(concat({x, relu(x)}, 0)));
}

TEST_P(PlanChunksTest, BadInputRaisesAndRestoresGradMode) {
  InferencePlan plan;
  plan.add_conv2d(rand_tensor({4, 3, 3, 3}, 1), Tensor(), {}, "relu");
  plan.add_max_pool2d(pool(2, 2));
  EXPECT_THROW(plan.run(rand_tensor({40, 2, 8, 8}, 2)), ValueError);  // wrong channels
  EXPECT_THROW(plan.run(rand_tensor({40, 3, 3, 3}, 2)), ValueError);  // too small to pool
  EXPECT_THROW(plan.run(rand_tensor({40, 8, 8}, 2)), ValueError);     // not 4-D
  EXPECT_TRUE(grad_enabled());
  EXPECT_EQ(get_num_threads(), threads());  // the workers' serial scope ended with them
}

TEST_P(PlanChunksTest, EveryChunkRunsOnceInOrder) {
  // run_in_chunks itself: chunk row ranges cover the batch once; results join in batch order.
  for (int64_t n : kBatches) {
    const Tensor x = rand_tensor({n, 5}, 80 + static_cast<uint32_t>(n));
    const Isa outer = active_isa();
    const Tensor y = detail::run_in_chunks(x, [&](const Tensor& c) {
      EXPECT_EQ(get_num_threads(), 1);  // chunk workers run their kernels serially
      EXPECT_EQ(active_isa(), outer);   // with the caller's ISA
      EXPECT_GE(c.dim(0), detail::kPlanChunkImages);
      EXPECT_LT(c.dim(0), 2 * detail::kPlanChunkImages);
      return mul_scalar(c, 2.0f);
    });
    EXPECT_EQ(values(y), values(mul_scalar(x, 2.0f))) << "batch " << n;
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(PlanChunksTest);

TEST(SerialWorker, PinsTheIsaAndOneThreadThenRestores) {
  const int threads = get_num_threads();
  const Isa isa = active_isa();
  {
    const SerialWorker serial(Isa::scalar);
    EXPECT_EQ(get_num_threads(), 1);
    EXPECT_EQ(active_isa(), Isa::scalar);
  }
  EXPECT_EQ(get_num_threads(), threads);
  EXPECT_EQ(active_isa(), isa);
}

}  // namespace
