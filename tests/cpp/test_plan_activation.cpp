// The inference plan's activations after relu / sigmoid / tanh (ops/plan_activation.h): a conv or
// linear step with "leaky_relu:0.1", "elu", "gelu", ... equals the op after the layer bit for bit
// (the kernel runs in place on the step's output), a standalone activation step leaves the
// caller's input alone, and unknown names or parameters are refused naming them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "pocketcnn/error.h"
#include "pocketcnn/inference.h"
#include "pocketcnn/ops.h"
#include "tensor_test_util.h"

using namespace pocketcnn;
using pocketcnn::testing::rand_tensor;
using pocketcnn::testing::random_vector;
using pocketcnn::testing::values;

namespace {

class PlanActivationTest : public pocketcnn::testing::IsaThreadsTest {};

struct Named {
  const char* name;
  Tensor (*op)(const Tensor&);
};

Tensor leaky_01(const Tensor& x) {
  return leaky_relu(x, 0.1f);
}
Tensor leaky_keras(const Tensor& x) {
  return leaky_relu(x, 0.2f);
}
Tensor elu_1(const Tensor& x) {
  return elu(x, 1.0f);
}
Tensor elu_half(const Tensor& x) {
  return elu(x, 0.5f);
}
Tensor gelu_erf(const Tensor& x) {
  return gelu(x, false);
}
Tensor gelu_tanh(const Tensor& x) {
  return gelu(x, true);
}

const Named kNamed[] = {{"leaky_relu:0.1", leaky_01},
                        {"leaky_relu", leaky_keras},
                        {"elu", elu_1},
                        {"elu:0.5", elu_half},
                        {"gelu", gelu_erf},
                        {"gelu_tanh", gelu_tanh},
                        {"silu", silu},
                        {"swish", silu},
                        {"hard_sigmoid", hard_sigmoid},
                        {"softplus", softplus}};

struct ConvShape {
  int64_t C, K, R, H, stride;
};

// Shapes that take the conv's different algorithms (Winograd 3x3, the GEMM of a 1x1, direct 5x5,
// strided), each of which fuses the activation into its own output pass.
const ConvShape kShapes[] = {{3, 6, 3, 8, 1}, {4, 5, 1, 7, 1}, {2, 4, 5, 11, 1}, {3, 8, 3, 12, 2}};

TEST_P(PlanActivationTest, ConvAndLinearStepsEqualTheOps) {
  for (const ConvShape& c : kShapes) {
    const Tensor w = rand_tensor({c.K, c.C, c.R, c.R}, 1, 0.5f), b = rand_tensor({c.K}, 2, 0.5f);
    const Tensor x = rand_tensor({3, c.C, c.H, c.H}, 5, 2.0f);
    Conv2dOptions opt;
    opt.stride_h = opt.stride_w = c.stride;
    const Tensor conv = conv2d(x, w, b, opt);
    const Tensor wl = rand_tensor({5, conv.numel() / 3}, 3, 0.2f), bl = rand_tensor({5}, 4, 0.1f);
    for (const Named& a : kNamed) {
      InferencePlan plan;
      plan.add_conv2d(w, b, opt, a.name);
      plan.add_flatten();
      plan.add_linear(wl, bl, "");
      plan.add_activation(a.name);  // becomes the linear step's own
      ASSERT_EQ(plan.size(), 3u) << a.name;
      const Tensor want = a.op(linear(flatten(a.op(conv), 1), wl, bl));
      EXPECT_EQ(values(plan.run(x)), values(want))
          << a.name << ", " << c.R << "x" << c.R << " stride " << c.stride;
    }
  }
}

TEST_P(PlanActivationTest, StandaloneStepLeavesTheInputAlone) {
  const Tensor x = rand_tensor({4, 33}, 6, 3.0f);
  const std::vector<float> before = values(x);
  for (const Named& a : kNamed) {
    InferencePlan plan;
    plan.add_activation(a.name);
    const Tensor y = plan.run(x);
    EXPECT_EQ(values(x), before) << a.name;
    EXPECT_EQ(values(y), values(a.op(x))) << a.name;
  }
}

TEST(PlanActivationNames, UnknownNamesAndParametersAreRefused) {
  for (const std::string bad : {"mish", "leaky_relu:", "leaky_relu:abc", "leaky_relu:0.1x",
                                "leaky_relu:nan", "elu:inf", "gelu:1", "relu:0.5", "LeakyReLU"}) {
    InferencePlan plan;
    try {
      plan.add_activation(bad);
      FAIL() << "accepted '" << bad << "'";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("unknown activation '" + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(PlanActivationTest);

}  // namespace
