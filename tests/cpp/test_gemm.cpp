// The GEMM microkernels (kernels/gemm.h) against their triple-loop references, under every ISA
// and thread count: all register-block remainders, column tails, offset tables, transposed A,
// accumulation, and the AVX-512 blocking run with portable 16-lane vectors.
#include <gtest/gtest.h>

#include <vector>

#include "kernel_test_util.h"
#include "kernels/gemm/gemm.h"
#include "kernels/gemm/gemm_impl.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_generic.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct NNCase {
  int64_t M, N, J;
  bool transposed_a, offsets, accumulate;
  int64_t ldb = 0;  // 0: N + 3
};

// Runs `run` (the fast kernel) and gemm_nn_ref on the same random problem and compares.
template <typename Run>
void check_nn(const NNCase& t, uint32_t seed, Run run) {
  const int64_t ldb = t.ldb ? t.ldb : t.N + 3, ldc = t.N + 5;
  // B rows for the offset case: row j starts at 2*j + (j % 3) -- overlapping, unaligned rows, as
  // in the convolution's shifted-input trick.
  std::vector<int64_t> off(t.J);
  for (int64_t j = 0; j < t.J; ++j) off[j] = 2 * j + j % 3;
  const int64_t b_size = t.offsets ? 2 * t.J + 3 + t.N : t.J * ldb;
  std::vector<float> A = random_vector(t.M * t.J, seed), B = random_vector(b_size, seed + 1);
  std::vector<float> C0 = random_vector(t.M * ldc, seed + 2);
  GemmNN g;
  g.M = t.M, g.N = t.N, g.J = t.J, g.A = A.data();
  g.a_rs = t.transposed_a ? 1 : t.J;
  g.a_cs = t.transposed_a ? t.M : 1;
  g.B = B.data(), g.boff = t.offsets ? off.data() : nullptr, g.ldb = ldb, g.ldc = ldc;
  g.accumulate = t.accumulate;
  std::vector<float> want = C0, got = C0;
  g.C = want.data();
  gemm_nn_ref(g);
  g.C = got.data();
  run(g);
  EXPECT_TRUE(all_close(got, want, 1e-5f * (t.J + 1)))
      << "M=" << t.M << " N=" << t.N << " J=" << t.J << " transA=" << t.transposed_a
      << " off=" << t.offsets << " acc=" << t.accumulate;
}

struct NTCase {
  int64_t M, N, L;
  bool offsets, accumulate;
};

template <typename Run>
void check_nt(const NTCase& t, uint32_t seed, Run run) {
  const int64_t lda = t.L + 1, ldb = t.L + 2, ldc = t.N + 3;
  std::vector<int64_t> off(t.N);
  for (int64_t j = 0; j < t.N; ++j) off[j] = 3 * j + j % 2;
  const int64_t b_size = t.offsets ? 3 * t.N + 2 + t.L : t.N * ldb;
  std::vector<float> A = random_vector(t.M * lda, seed), B = random_vector(b_size, seed + 1);
  std::vector<float> C0 = random_vector(t.M * ldc, seed + 2);
  GemmNT g;
  g.M = t.M, g.N = t.N, g.L = t.L, g.A = A.data(), g.lda = lda, g.B = B.data();
  g.boff = t.offsets ? off.data() : nullptr, g.ldb = ldb, g.ldc = ldc, g.accumulate = t.accumulate;
  std::vector<float> want = C0, got = C0;
  g.C = want.data();
  gemm_nt_ref(g);
  g.C = got.data();
  run(g);
  EXPECT_TRUE(all_close(got, want, 1e-5f * (t.L + 1)))
      << "M=" << t.M << " N=" << t.N << " L=" << t.L << " off=" << t.offsets
      << " acc=" << t.accumulate;
}

std::vector<NNCase> nn_cases() {
  std::vector<NNCase> cases;
  uint32_t k = 0;
  // Every row remainder up to 13 against column counts around the 8- and 16-lane tile edges.
  for (int64_t M : {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 25, 50, 64})
    for (int64_t N : {1, 7, 8, 9, 16, 17, 23, 24, 25, 47, 48, 49, 64, 65, 100, 143})
      for (int64_t J : {1, 3, 9, 33}) {
        ++k;
        cases.push_back({M, N, J, k % 3 == 0, k % 2 == 0, k % 5 == 0});
      }
  cases.push_back({64, 200, 1600, false, true, false});  // several J blocks (kc)
  cases.push_back({10, 1250, 100, false, false, true});  // dense backward-input shape
  // B rows 4 KB / 8 KB apart: copied to panels (nn_b_rows_alias), with row and column tails,
  // several J blocks, transposed A (the dense weight gradient) and a single row block (no copy).
  for (int64_t ldb : {1024, 2048}) {
    cases.push_back({13, 1000, 37, false, false, false, ldb});
    cases.push_back({29, 1021, 300, true, false, true, ldb});
    cases.push_back({64, 257, 9, true, false, false, ldb});
    cases.push_back({4, 100, 17, false, false, true, ldb});
  }
  return cases;
}

std::vector<NTCase> nt_cases() {
  std::vector<NTCase> cases;
  uint32_t k = 0;
  for (int64_t M : {1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 25, 64})
    for (int64_t N : {1, 2, 3, 4, 5, 7, 9, 13, 25, 100})
      for (int64_t L : {1, 7, 8, 9, 16, 17, 33, 100}) {
        ++k;
        cases.push_back({M, N, L, k % 2 == 0, k % 3 == 0});
      }
  cases.push_back({64, 27, 3000, true, false});    // several L blocks (lc)
  cases.push_back({64, 100, 1250, false, false});  // dense forward shape
  cases.push_back({1, 100, 1250, true, true});     // ... at batch 1 (one row: gemv_nt)
  cases.push_back({3, 10, 1250, false, true});     // ... at batch 3 (A is one L block)
  cases.push_back({1, 7, 5000, false, false});     // one row too long for gemv_nt
  return cases;
}

class GemmTest : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(GemmTest, NNMatchesReference) {
  uint32_t seed = 1;
  for (const NNCase& t : nn_cases())
    check_nn(t, seed++, [&](const GemmNN& g) { gemm_nn(g, threads()); });
}

TEST_P(GemmTest, NTMatchesReference) {
  uint32_t seed = 1;
  for (const NTCase& t : nt_cases())
    check_nt(t, seed++, [&](const GemmNT& g) { gemm_nt(g, threads()); });
}

TEST_P(GemmTest, EmptyReductionZeroesOrKeeps) {
  std::vector<float> C(6, 5.0f);
  GemmNN g;
  g.M = 2, g.N = 3, g.J = 0, g.C = C.data(), g.ldc = 3;
  gemm_nn(g, threads());
  EXPECT_EQ(C, std::vector<float>(6, 0.0f));
  std::fill(C.begin(), C.end(), 5.0f);
  GemmNT t;
  t.M = 2, t.N = 3, t.L = 0, t.C = C.data(), t.ldc = 3, t.accumulate = true;
  gemm_nt(t, threads());
  EXPECT_EQ(C, std::vector<float>(6, 5.0f));
}

TEST_P(GemmTest, DeterministicForAThreadCount) {
  const int64_t M = 37, N = 301, J = 211;
  std::vector<float> A = random_vector(M * J, 7), B = random_vector(J * N, 8);
  std::vector<float> C1(M * N), C2(M * N);
  GemmNN g;
  g.M = M, g.N = N, g.J = J, g.A = A.data(), g.a_rs = J, g.B = B.data(), g.ldb = N, g.ldc = N;
  g.C = C1.data();
  gemm_nn(g, threads());
  g.C = C2.data();
  gemm_nn(g, threads());
  EXPECT_EQ(C1, C2);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(GemmTest);

// The AVX-512 register blocking (8x3, 6x4, ... with 16-lane tails) on any machine: the same
// templates with the portable 16-lane vector type.
TEST(GemmWide, Avx512BlockingWithPortableVectors) {
  using V = simd::GenericVec<16>;
  uint32_t seed = 100;
  for (const NNCase& t : nn_cases()) {
    check_nn(t, seed++, [](const GemmNN& g) { impl::gemm_nn<V, Avx512Cfg>(g, 2); });
  }
  for (const NTCase& t : nt_cases()) {
    check_nt(t, seed++, [](const GemmNT& g) { impl::gemm_nt<V, Avx512Cfg>(g, 2); });
  }
}

}  // namespace
