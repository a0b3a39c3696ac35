// Shared helpers for the fast-kernel tests: random data, tolerant comparison, and a fixture that
// runs each test under one (ISA, thread count) pair and restores the defaults afterwards.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "pocketcnn/cpu.h"

namespace pocketcnn::testing {

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |got - want| <= atol + rtol * |want| elementwise; reports the first mismatch.
inline ::testing::AssertionResult all_close(const std::vector<float>& got,
                                            const std::vector<float>& want, float atol,
                                            float rtol = 1e-4f) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const float d = std::fabs(got[i] - want[i]);
    if (!(d <= atol + rtol * std::fabs(want[i]))) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << ", want "
                                           << want[i] << " (diff " << d << ", atol " << atol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// (ISA, threads) parameterised fixture. Skips ISAs this CPU cannot run.
class IsaThreadsTest : public ::testing::TestWithParam<std::tuple<Isa, int>> {
 protected:
  void SetUp() override {
    saved_cap_ = isa_cap();
    saved_threads_ = get_num_threads();
    const Isa isa = std::get<0>(GetParam());
    if (!cpu_supports(isa)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
    ASSERT_EQ(set_isa_cap(isa), isa);
    set_num_threads(std::get<1>(GetParam()));
  }
  void TearDown() override {
    set_isa_cap(saved_cap_);
    set_num_threads(saved_threads_);
  }
  int threads() const { return std::get<1>(GetParam()); }

 private:
  Isa saved_cap_ = Isa::avx512;
  int saved_threads_ = 1;
};

inline std::string isa_threads_name(const ::testing::TestParamInfo<std::tuple<Isa, int>>& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_t" +
         std::to_string(std::get<1>(info.param));
}

#define POCKETCNN_INSTANTIATE_ISA_THREADS(Suite)                                             \
  INSTANTIATE_TEST_SUITE_P(                                                                  \
      AllIsas, Suite,                                                                        \
      ::testing::Combine(::testing::Values(::pocketcnn::Isa::scalar, ::pocketcnn::Isa::avx2, \
                                           ::pocketcnn::Isa::avx512),                        \
                         ::testing::Values(1, 2, 3)),                                        \
      ::pocketcnn::testing::isa_threads_name)

}  // namespace pocketcnn::testing
