// The GEMM-backed layer kernels (kernels/gemm/dense.h, matmul.h) against their reference loops
// (dense_ref.h, the *_ref of matmul.h) under every ISA and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/gemm/dense.h"
#include "kernels/gemm/dense_ref.h"
#include "kernels/gemm/matmul.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class DenseFastTest : public pocketcnn::testing::IsaThreadsTest {};

struct DenseCase {
  int64_t N, in, out;
};

const DenseCase kCases[] = {{1, 1, 1}, {1, 1250, 100}, {64, 1250, 100}, {64, 100, 10},
                            {3, 7, 5}, {5, 17, 9},     {13, 33, 25},    {256, 100, 10},
                            {2, 0, 3}, {0, 4, 3},      {7, 64, 1},      {9, 1, 64}};

TEST_P(DenseFastTest, MatchesReference) {
  uint32_t seed = 1;
  for (const DenseCase& c : kCases) {
    seed += 10;
    auto x = random_vector(c.N * c.in, seed), w = random_vector(c.out * c.in, seed + 1);
    auto b = random_vector(c.out, seed + 2), dy = random_vector(c.N * c.out, seed + 3);
    const float tol_in = 2e-5f * (c.in + 1), tol_n = 2e-5f * (c.N + c.out + 1);
    for (bool bias : {true, false}) {
      std::vector<float> want(c.N * c.out), got(c.N * c.out, 9.0f);
      linear_forward_ref(c.N, c.in, c.out, x.data(), w.data(), bias ? b.data() : nullptr,
                         want.data());
      linear_forward(c.N, c.in, c.out, x.data(), w.data(), bias ? b.data() : nullptr, got.data());
      EXPECT_TRUE(all_close(got, want, tol_in)) << c.N << "x" << c.in << "->" << c.out;
    }
    std::vector<float> want_dx(c.N * c.in), got_dx(c.N * c.in, 9.0f);
    linear_backward_input_ref(c.N, c.in, c.out, dy.data(), w.data(), want_dx.data());
    linear_backward_input(c.N, c.in, c.out, dy.data(), w.data(), got_dx.data());
    EXPECT_TRUE(all_close(got_dx, want_dx, tol_n)) << c.N << "x" << c.in << "->" << c.out;
    std::vector<float> want_dw(c.out * c.in), got_dw(c.out * c.in, 9.0f);
    std::vector<float> want_db(c.out), got_db(c.out, 9.0f);
    linear_backward_weight_ref(c.N, c.in, c.out, x.data(), dy.data(), want_dw.data(),
                               want_db.data());
    linear_backward_weight(c.N, c.in, c.out, x.data(), dy.data(), got_dw.data(), got_db.data());
    EXPECT_TRUE(all_close(got_dw, want_dw, tol_n)) << c.N << "x" << c.in << "->" << c.out;
    EXPECT_TRUE(all_close(got_db, want_db, tol_n)) << c.N << "x" << c.in << "->" << c.out;
  }
}

// matmul (kernels/gemm/matmul.h) on the GEMM against its triple loops, on shapes around the
// register blocks and with empty dimensions (an empty reduction must give zeros).
struct MatmulDims {
  int64_t n, k, m;
};
const MatmulDims kMatmulDims[] = {{1, 1, 1},    {2, 3, 2},    {7, 5, 9},   {17, 33, 31},
                                  {64, 64, 64}, {65, 7, 130}, {3, 300, 2}, {0, 4, 3},
                                  {3, 0, 4},    {3, 4, 0},    {1, 257, 1}, {96, 1, 48}};

float matmul_tolerance(int64_t reduction) {
  return 1e-5f * static_cast<float>(reduction + 1);
}

TEST_P(DenseFastTest, MatmulAndGradientsMatchTheReference) {
  for (const MatmulDims& d : kMatmulDims) {
    const uint32_t seed = static_cast<uint32_t>(d.n * 10007 + d.k * 101 + d.m);
    const std::vector<float> a = random_vector(d.n * d.k, seed + 1),
                             b = random_vector(d.k * d.m, seed + 2),
                             dy = random_vector(d.n * d.m, seed + 3);
    // NaN-filled outputs: every element must be written.
    std::vector<float> y(d.n * d.m, NAN), y_ref(d.n * d.m);
    matmul(d.n, d.k, d.m, a.data(), b.data(), y.data());
    matmul_ref(d.n, d.k, d.m, a.data(), b.data(), y_ref.data());
    EXPECT_TRUE(all_close(y, y_ref, matmul_tolerance(d.k))) << d.n << "x" << d.k << "x" << d.m;

    std::vector<float> da(d.n * d.k, NAN), da_ref(d.n * d.k);
    matmul_grad_a(d.n, d.k, d.m, dy.data(), b.data(), da.data());
    matmul_grad_a_ref(d.n, d.k, d.m, dy.data(), b.data(), da_ref.data());
    EXPECT_TRUE(all_close(da, da_ref, matmul_tolerance(d.m))) << d.n << "x" << d.k << "x" << d.m;

    std::vector<float> db(d.k * d.m, NAN), db_ref(d.k * d.m);
    matmul_grad_b(d.n, d.k, d.m, a.data(), dy.data(), db.data());
    matmul_grad_b_ref(d.n, d.k, d.m, a.data(), dy.data(), db_ref.data());
    EXPECT_TRUE(all_close(db, db_ref, matmul_tolerance(d.n))) << d.n << "x" << d.k << "x" << d.m;
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(DenseFastTest);

}  // namespace
