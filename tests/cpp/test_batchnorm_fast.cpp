// The fast batch-norm kernels (kernels/norm/batchnorm.h) against batchnorm_ref.h under every ISA
// and thread count: statistics, the normalisation and the backward (with batch statistics and
// with constant ones), for HW below, at and above the vector width and for flat (HW = 1) inputs.
// Also: results do not depend on the thread count (each channel is summed by one thread).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/norm/batchnorm.h"
#include "kernels/norm/batchnorm_ref.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class BatchNormFastTest : public pocketcnn::testing::IsaThreadsTest {};

const BatchNormGeometry kShapes[] = {{2, 3, 1},    {5, 4, 7},   {3, 2, 16}, {2, 5, 33},
                                     {8, 16, 196}, {1, 3, 300}, {64, 40, 1}};

TEST_P(BatchNormFastTest, StatisticsAndApplyMatchReference) {
  for (const BatchNormGeometry& g : kShapes) {
    const size_t n = static_cast<size_t>(g.N * g.C * g.HW), c = static_cast<size_t>(g.C);
    // An offset mean: a one-pass E[x^2] - E[x]^2 would lose the variance here.
    std::vector<float> x = random_vector(n, 3, 99.0f, 101.0f);
    std::vector<float> mean(c), var(c), mean_ref(c), var_ref(c);
    batchnorm_stats(g, x.data(), mean.data(), var.data());
    batchnorm_stats_ref(g, x.data(), mean_ref.data(), var_ref.data());
    EXPECT_TRUE(all_close(mean, mean_ref, 1e-4f, 1e-6f)) << "N " << g.N << " HW " << g.HW;
    EXPECT_TRUE(all_close(var, var_ref, 1e-5f, 1e-3f)) << "N " << g.N << " HW " << g.HW;
    const std::vector<float> scale = random_vector(c, 4), shift = random_vector(c, 5);
    std::vector<float> y(n, 7.0f), y_ref(n);
    batchnorm_apply(g, x.data(), scale.data(), shift.data(), y.data());
    batchnorm_apply_ref(g, x.data(), scale.data(), shift.data(), y_ref.data());
    EXPECT_TRUE(all_close(y, y_ref, 1e-4f, 1e-6f));
  }
}

TEST_P(BatchNormFastTest, BackwardMatchesReference) {
  for (const BatchNormGeometry& g : kShapes) {
    const size_t n = static_cast<size_t>(g.N * g.C * g.HW), c = static_cast<size_t>(g.C);
    const std::vector<float> x = random_vector(n, 6, -2.0f, 3.0f), dy = random_vector(n, 7);
    std::vector<float> mean(c), var(c), invstd(c);
    batchnorm_stats_ref(g, x.data(), mean.data(), var.data());
    for (size_t k = 0; k < c; ++k) invstd[k] = 1.0f / std::sqrt(var[k] + 1e-5f);
    const std::vector<float> gamma = random_vector(c, 8, 0.5f, 2.0f);
    for (bool batch_stats : {true, false}) {
      for (const float* gm : {gamma.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> dx(n, 9.0f), dg(c), db(c), dx_ref(n), dg_ref(c), db_ref(c);
        batchnorm_backward(g, batch_stats, x.data(), mean.data(), invstd.data(), gm, dy.data(),
                           dx.data(), dg.data(), db.data());
        batchnorm_backward_ref(g, batch_stats, x.data(), mean.data(), invstd.data(), gm, dy.data(),
                               dx_ref.data(), dg_ref.data(), db_ref.data());
        const float tol = 1e-5f * static_cast<float>(g.N * g.HW);
        EXPECT_TRUE(all_close(dx, dx_ref, 1e-4f, 1e-3f)) << "batch_stats " << batch_stats;
        EXPECT_TRUE(all_close(dg, dg_ref, tol, 1e-4f));
        EXPECT_TRUE(all_close(db, db_ref, tol, 1e-4f));
      }
    }
    // Null outputs are skipped, the others still computed.
    std::vector<float> dg(c), dg_ref(c);
    batchnorm_backward(g, true, x.data(), mean.data(), invstd.data(), nullptr, dy.data(), nullptr,
                       dg.data(), nullptr);
    batchnorm_backward_ref(g, true, x.data(), mean.data(), invstd.data(), nullptr, dy.data(),
                           nullptr, dg_ref.data(), nullptr);
    EXPECT_TRUE(all_close(dg, dg_ref, 1e-5f * static_cast<float>(g.N * g.HW), 1e-4f));
  }
}

// BatchNormalization + ReLU in one op (batchnorm_apply_relu, batchnorm_relu_backward) against the
// reference composed: relu of batchnorm_apply_ref, and batchnorm_backward_ref of dy zeroed where
// that was <= 0.
TEST_P(BatchNormFastTest, FusedReluMatchesReferenceComposition) {
  for (const BatchNormGeometry& g : kShapes) {
    SCOPED_TRACE("N " + std::to_string(g.N) + " C " + std::to_string(g.C) + " HW " +
                 std::to_string(g.HW));
    const size_t n = static_cast<size_t>(g.N * g.C * g.HW), c = static_cast<size_t>(g.C);
    const std::vector<float> x = random_vector(n, 12, -2.0f, 3.0f), dy = random_vector(n, 13);
    std::vector<float> mean(c), var(c), invstd(c), scale(c), shift(c);
    batchnorm_stats_ref(g, x.data(), mean.data(), var.data());
    const std::vector<float> gamma = random_vector(c, 14, 0.5f, 2.0f);
    const std::vector<float> beta = random_vector(c, 15, -0.5f, 0.5f);
    for (size_t k = 0; k < c; ++k) {
      invstd[k] = 1.0f / std::sqrt(var[k] + 1e-5f);
      scale[k] = gamma[k] * invstd[k];
      shift[k] = beta[k] - mean[k] * scale[k];
    }
    std::vector<float> y(n, 7.0f), y_ref(n), dy_masked(n);
    batchnorm_apply_relu(g, x.data(), scale.data(), shift.data(), y.data());
    batchnorm_apply_ref(g, x.data(), scale.data(), shift.data(), y_ref.data());
    size_t zeros = 0;
    for (size_t i = 0; i < n; ++i) {
      dy_masked[i] = y_ref[i] > 0.0f ? dy[i] : 0.0f;
      y_ref[i] = std::max(0.0f, y_ref[i]);
      zeros += y_ref[i] == 0.0f;
    }
    EXPECT_TRUE(all_close(y, y_ref, 1e-4f, 1e-6f));
    EXPECT_GT(zeros, 0u);  // the mask does something
    EXPECT_LT(zeros, n);
    for (bool batch_stats : {true, false}) {
      std::vector<float> dx(n, 9.0f), dg(c), db(c), dx_ref(n), dg_ref(c), db_ref(c);
      batchnorm_relu_backward(g, batch_stats, x.data(), mean.data(), invstd.data(), gamma.data(),
                              scale.data(), shift.data(), dy.data(), dx.data(), dg.data(),
                              db.data());
      batchnorm_backward_ref(g, batch_stats, x.data(), mean.data(), invstd.data(), gamma.data(),
                             dy_masked.data(), dx_ref.data(), dg_ref.data(), db_ref.data());
      const float tol = 1e-5f * static_cast<float>(g.N * g.HW);
      EXPECT_TRUE(all_close(dx, dx_ref, 1e-4f, 1e-3f)) << "batch_stats " << batch_stats;
      EXPECT_TRUE(all_close(dg, dg_ref, tol, 1e-4f));
      EXPECT_TRUE(all_close(db, db_ref, tol, 1e-4f));
    }
  }
}

TEST_P(BatchNormFastTest, ResultsDoNotDependOnTheThreadCount) {
  const BatchNormGeometry g{16, 24, 300};
  const size_t n = static_cast<size_t>(g.N * g.C * g.HW), c = static_cast<size_t>(g.C);
  const std::vector<float> x = random_vector(n, 10), dy = random_vector(n, 11);
  auto run = [&](std::vector<float>* out) {
    std::vector<float> mean(c), var(c), invstd(c, 1.3f), dx(n);
    batchnorm_stats(g, x.data(), mean.data(), var.data());
    batchnorm_backward(g, true, x.data(), mean.data(), invstd.data(), nullptr, dy.data(), dx.data(),
                       nullptr, nullptr);
    *out = mean;
    out->insert(out->end(), var.begin(), var.end());
    out->insert(out->end(), dx.begin(), dx.end());
  };
  std::vector<float> here, one;
  run(&here);
  const int saved = get_num_threads();
  set_num_threads(1);
  run(&one);
  set_num_threads(saved);
  EXPECT_EQ(here, one);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(BatchNormFastTest);

}  // namespace
