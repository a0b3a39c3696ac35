// The fast elementwise kernels (kernels/elementwise.h) against elementwise_loops.h under every ISA
// and thread count, bit for bit: ReLU keeps NaN and -0 like the reference, its gradient is 0 at 0;
// every backward is the reference's arithmetic (up to an FMA for sigmoid's and tanh's). (The
// forward of exp, log, sigmoid and tanh is the vector math, within its stated ulp of float64:
// test_vmath.cpp.)
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
    for (UnaryOp op : {UnaryOp::Relu, UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::Exp, UnaryOp::Log,
                       UnaryOp::Neg}) {
      std::vector<float> y_ref(n), y(n, 5.0f), dx_ref(n), dx(n, 5.0f);
      unary_forward_loop(op, n, x.data(), y_ref.data());
      unary_forward(op, n, x.data(), y.data());
      const bool exact_forward = op == UnaryOp::Relu || op == UnaryOp::Neg;
      if (!exact_forward) y = y_ref;  // only the backward is compared here
      unary_backward_loop(op, n, x.data(), y_ref.data(), dy.data(), dx_ref.data());
      unary_backward(op, n, x.data(), y_ref.data(), dy.data(), dx.data());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_bits(y[i], y_ref[i]) || (std::isnan(y[i]) && std::isnan(y_ref[i])))
            << "op " << static_cast<int>(op) << " n " << n << " y[" << i << "] x=" << x[i];
        // Sigmoid's and tanh's dy y (1 - y) and dy (1 - y y) may be fused into an FMA by the
        // compiler in the ISA translation units: an ulp of the factor, not bit for bit.
        const bool fma_ok = op == UnaryOp::Sigmoid || op == UnaryOp::Tanh;
        if (fma_ok && std::isfinite(dx_ref[i])) {
          ASSERT_NEAR(dx[i], dx_ref[i], 2.4e-7f * std::fabs(dy[i]))
              << "op " << static_cast<int>(op) << " n " << n << " dx[" << i << "] x=" << x[i];
          continue;
        }
        ASSERT_TRUE(same_bits(dx[i], dx_ref[i]) || (std::isnan(dx[i]) && std::isnan(dx_ref[i])))
            << "op " << static_cast<int>(op) << " n " << n << " dx[" << i << "] x=" << x[i];
      }
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ElementwiseFastTest);

}  // namespace
