// add_relu (training's residual Add + ReLU in one op) against its reference composition,
// relu(add(a, b)), under every ISA and thread count: the same output bits and the same gradients
// for both inputs, NaN / -0 / the kink at 0 included; mismatched shapes refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"
#include "tensor_test_util.h"

using namespace pocketcnn;
using pocketcnn::testing::rand_tensor;
using pocketcnn::testing::values;

namespace {

class AddReluTest : public pocketcnn::testing::IsaThreadsTest {};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The gradients of sum(f(a, b) * cot) for a and b.
template <class F>
std::vector<std::vector<float>> grads(F f, const Tensor& a0, const Tensor& b0, const Tensor& cot) {
  Tensor a = a0.clone(), b = b0.clone();
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  f(a, b).backward(cot);
  return {values(a.grad()), values(b.grad())};
}

TEST_P(AddReluTest, EqualsReluOfAddForwardAndBackward) {
  // Sizes below and above the vector width and the thread split (merge_sum's, relu's).
  for (const Shape& s : {Shape{3}, Shape{2, 3, 5, 7}, Shape{4, 16, 28, 28}}) {
    Tensor a = rand_tensor(s, 1), b = rand_tensor(s, 2), cot = rand_tensor(s, 3);
    a.data()[0] = std::numeric_limits<float>::quiet_NaN();
    if (a.numel() > 2) {
      a.data()[1] = -0.0f, b.data()[1] = 0.0f;  // -0 + 0 = +0: relu keeps it, the gradient is 0
      a.data()[2] = 0.5f, b.data()[2] = -0.5f;  // exactly 0: the kink
    }
    EXPECT_TRUE(same_bits(values(add_relu(a, b)), values(relu(add(a, b))))) << shape_str(s);
    const auto fused =
        grads([](const Tensor& x, const Tensor& y) { return add_relu(x, y); }, a, b, cot);
    const auto plain =
        grads([](const Tensor& x, const Tensor& y) { return relu(add(x, y)); }, a, b, cot);
    EXPECT_TRUE(same_bits(fused[0], plain[0])) << shape_str(s);
    EXPECT_TRUE(same_bits(fused[1], plain[1])) << shape_str(s);
  }
}

TEST_P(AddReluTest, RefusesMismatchedShapes) {
  EXPECT_THROW(add_relu(rand_tensor({2, 3}, 1), rand_tensor({3, 2}, 2)), ValueError);
  EXPECT_THROW(add_relu(Tensor(), rand_tensor({3}, 2)), TypeError);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(AddReluTest);

}  // namespace
