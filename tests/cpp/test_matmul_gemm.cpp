// matmul and its gradients on the GEMM (kernels/gemm/matmul.h) against the triple loops of
// matmul_ref.h, under every ISA and thread count, on shapes around the register blocks and with
// empty dimensions (an empty reduction must give zeros).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/gemm/matmul.h"
#include "kernels/gemm/matmul_ref.h"

using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class MatmulGemmTest : public pocketcnn::testing::IsaThreadsTest {};

struct Dims {
  int64_t n, k, m;
};
const Dims kDims[] = {{1, 1, 1},   {2, 3, 2},  {7, 5, 9},   {17, 33, 31}, {64, 64, 64},
                      {65, 7, 130}, {3, 300, 2}, {0, 4, 3},  {3, 0, 4},    {3, 4, 0},
                      {1, 257, 1},  {96, 1, 48}};

float tolerance(int64_t reduction) {
  return 1e-5f * static_cast<float>(reduction + 1);
}

TEST_P(MatmulGemmTest, ProductAndGradientsMatchTheReference) {
  for (const Dims& d : kDims) {
    const uint32_t seed = static_cast<uint32_t>(d.n * 10007 + d.k * 101 + d.m);
    const std::vector<float> a = random_vector(d.n * d.k, seed + 1),
                             b = random_vector(d.k * d.m, seed + 2),
                             dy = random_vector(d.n * d.m, seed + 3);
    // NaN-filled outputs: every element must be written.
    std::vector<float> y(d.n * d.m, NAN), y_ref(d.n * d.m);
    matmul(d.n, d.k, d.m, a.data(), b.data(), y.data());
    matmul_ref(d.n, d.k, d.m, a.data(), b.data(), y_ref.data());
    EXPECT_TRUE(all_close(y, y_ref, tolerance(d.k))) << d.n << "x" << d.k << "x" << d.m;

    std::vector<float> da(d.n * d.k, NAN), da_ref(d.n * d.k);
    matmul_grad_a(d.n, d.k, d.m, dy.data(), b.data(), da.data());
    matmul_grad_a_ref(d.n, d.k, d.m, dy.data(), b.data(), da_ref.data());
    EXPECT_TRUE(all_close(da, da_ref, tolerance(d.m))) << d.n << "x" << d.k << "x" << d.m;

    std::vector<float> db(d.k * d.m, NAN), db_ref(d.k * d.m);
    matmul_grad_b(d.n, d.k, d.m, a.data(), dy.data(), db.data());
    matmul_grad_b_ref(d.n, d.k, d.m, a.data(), dy.data(), db_ref.data());
    EXPECT_TRUE(all_close(db, db_ref, tolerance(d.n))) << d.n << "x" << d.k << "x" << d.m;
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(MatmulGemmTest);

}  // namespace
