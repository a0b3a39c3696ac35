// The fast elementwise kernels (kernels/elementwise.h) against elementwise_loops.h under every ISA
// and thread count, bit for bit: ReLU keeps NaN and -0 like the reference, its gradient is 0 at 0.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/elementwise.h"
#include "kernels/pointwise/elementwise_loops.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

class ElementwiseFastTest : public pocketcnn::testing::IsaThreadsTest {};

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof(float)) == 0;
}

TEST_P(ElementwiseFastTest, UnaryOpsMatchReferenceBitForBit) {
  for (int64_t n : {0, 1, 7, 8, 9, 31, 4096, 4097, 300001}) {
    std::vector<float> x = random_vector(n, static_cast<uint32_t>(n) + 1, -3.0f, 3.0f);
    const float specials[] = {0.0f,
                              -0.0f,
                              std::nanf(""),
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(),
                              1e-40f,
                              -1e-40f};
    for (int64_t i = 0; i < n; i += 5) x[i] = specials[(i / 5) % 7];
    const std::vector<float> dy = random_vector(n, 77);
    for (UnaryOp op : {UnaryOp::Relu, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Neg}) {
      std::vector<float> y_ref(n), y(n, 5.0f), dx_ref(n), dx(n, 5.0f);
      unary_forward_loop(op, n, x.data(), y_ref.data());
      unary_forward(op, n, x.data(), y.data());
      unary_backward_loop(op, n, x.data(), y_ref.data(), dy.data(), dx_ref.data());
      unary_backward(op, n, x.data(), y_ref.data(), dy.data(), dx.data());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_bits(y[i], y_ref[i]) || (std::isnan(y[i]) && std::isnan(y_ref[i])))
            << "op " << static_cast<int>(op) << " n " << n << " y[" << i << "] x=" << x[i];
        ASSERT_TRUE(same_bits(dx[i], dx_ref[i]) || (std::isnan(dx[i]) && std::isnan(dx_ref[i])))
            << "op " << static_cast<int>(op) << " n " << n << " dx[" << i << "] x=" << x[i];
      }
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ElementwiseFastTest);

}  // namespace
