// The optimiser kernels (kernels/optim_update.h) against their reference loops under every ISA and
// thread count: SGD (plain, weight decay, momentum's first and later steps, dampening, Nesterov),
// Adam and AdamW, the sum of squares and the in-place scale, on sizes around the vector width and
// the chunk size. The ISA builds may fuse a multiply and an add (the last bit may differ from the
// reference), so updates compare within a few ulps; the sum of squares must not depend on the
// thread count at all.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/isa/simd_generic.h"
#include "kernels/optim/optim_update.h"
#include "kernels/optim/optim_update_impl.h"
#include "pocketcnn/cpu.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

class OptimFastTest : public pocketcnn::testing::IsaThreadsTest {};

const int64_t kSizes[] = {0, 1, 7, 8, 9, 17, 31, 4096, 4097, 12345, 300001};

TEST_P(OptimFastTest, SgdMatchesReference) {
  struct Variant {
    float momentum, dampening, weight_decay;
    bool nesterov, first_step;
  };
  const Variant variants[] = {{0.0f, 0.0f, 0.0f, false, false},  {0.0f, 0.0f, 0.05f, false, false},
                              {0.9f, 0.0f, 0.0f, false, true},   {0.9f, 0.0f, 0.0f, false, false},
                              {0.9f, 0.3f, 0.01f, false, false}, {0.9f, 0.0f, 0.01f, true, false}};
  for (int64_t n : kSizes) {
    const uint32_t seed = static_cast<uint32_t>(n);
    const std::vector<float> p0 = random_vector(n, seed + 1), g = random_vector(n, seed + 2),
                             b0 = random_vector(n, seed + 3);
    for (const Variant& v : variants) {
      SgdStep s;
      s.lr = 0.1f, s.momentum = v.momentum, s.dampening = v.dampening;
      s.weight_decay = v.weight_decay, s.nesterov = v.nesterov, s.first_step = v.first_step;
      std::vector<float> p = p0, p_ref = p0, b = b0, b_ref = b0;
      float* buf = v.momentum != 0.0f ? b.data() : nullptr;
      float* buf_ref = v.momentum != 0.0f ? b_ref.data() : nullptr;
      sgd_update(n, p.data(), g.data(), buf, s);
      sgd_update_ref(n, p_ref.data(), g.data(), buf_ref, s);
      ASSERT_TRUE(all_close(p, p_ref, 1e-6f, 1e-6f)) << "n " << n << " momentum " << v.momentum;
      ASSERT_TRUE(all_close(b, b_ref, 1e-6f, 1e-6f)) << "n " << n << " momentum " << v.momentum;
    }
  }
}

TEST_P(OptimFastTest, AdamAndAdamWMatchReference) {
  for (int64_t n : kSizes) {
    const uint32_t seed = static_cast<uint32_t>(n) + 100;
    const std::vector<float> p0 = random_vector(n, seed + 1), g = random_vector(n, seed + 2),
                             m0 = random_vector(n, seed + 3, -0.1f, 0.1f),
                             v0 = random_vector(n, seed + 4, 0.0f, 0.01f);
    for (int variant = 0; variant < 3; ++variant) {
      AdamStep s;
      s.step_size = 0.01f / (1.0f - 0.9f * 0.9f * 0.9f);
      s.bias_correction2_sqrt = std::sqrt(1.0f - 0.999f * 0.999f * 0.999f);
      s.weight_decay = variant == 0 ? 0.0f : 0.05f;
      s.decoupled = variant == 2;
      s.decay = 1.0f - 0.01f * s.weight_decay;
      std::vector<float> p = p0, p_ref = p0, m = m0, m_ref = m0, v = v0, v_ref = v0;
      adam_update(n, p.data(), g.data(), m.data(), v.data(), s);
      adam_update_ref(n, p_ref.data(), g.data(), m_ref.data(), v_ref.data(), s);
      ASSERT_TRUE(all_close(m, m_ref, 1e-7f, 1e-6f)) << "n " << n << " variant " << variant;
      ASSERT_TRUE(all_close(v, v_ref, 1e-9f, 1e-6f)) << "n " << n << " variant " << variant;
      ASSERT_TRUE(all_close(p, p_ref, 1e-6f, 1e-6f)) << "n " << n << " variant " << variant;
    }
  }
}

TEST_P(OptimFastTest, NonFiniteGradientsReachTheSameWeights) {
  const int64_t n = 4097;
  std::vector<float> g = random_vector(n, 9);
  g[3] = std::nanf("");
  g[4096] = INFINITY;
  std::vector<float> p(n, 1.0f), p_ref(n, 1.0f), m(n, 0.0f), m_ref(n, 0.0f), v(n, 0.0f),
      v_ref(n, 0.0f);
  AdamStep s;
  s.step_size = 0.001f;
  adam_update(n, p.data(), g.data(), m.data(), v.data(), s);
  adam_update_ref(n, p_ref.data(), g.data(), m_ref.data(), v_ref.data(), s);
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(std::isnan(p[i]), std::isnan(p_ref[i])) << "element " << i;
    ASSERT_EQ(std::isnan(v[i]), std::isnan(v_ref[i])) << "element " << i;
  }
  EXPECT_TRUE(std::isnan(p[3]) && std::isnan(p[4096]));
}

TEST_P(OptimFastTest, SumOfSquaresMatchesReferenceAndIgnoresTheThreadCount) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{4097},
                    int64_t{300001}, int64_t{4096 * 64 * 3 + 5}}) {
    const std::vector<float> x = random_vector(n, static_cast<uint32_t>(n) + 7, -2.0f, 2.0f);
    const double want = sum_of_squares_ref(n, x.data());
    const double got = sum_of_squares(n, x.data());
    EXPECT_NEAR(got, want, 1e-12 * want + 1e-300) << "n " << n;
    const int saved = get_num_threads();
    set_num_threads(1);
    const double one_thread = sum_of_squares(n, x.data());
    set_num_threads(saved);
    EXPECT_EQ(got, one_thread) << "n " << n << ": the sum depends on the thread count";
  }
}

TEST_P(OptimFastTest, ScaleInPlaceMatchesReferenceBitForBit) {
  for (int64_t n : kSizes) {
    std::vector<float> x = random_vector(n, static_cast<uint32_t>(n) + 11), x_ref = x;
    scale_in_place(n, x.data(), 0.37f);
    scale_in_place_ref(n, x_ref.data(), 0.37f);
    EXPECT_EQ(x, x_ref) << "n " << n;
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(OptimFastTest);

// The AVX-512 variants' 16-lane blocks and tails on any machine: the same templates with the
// portable 16-lane vector type.
TEST(OptimWide, SixteenLaneBlocksMatchReference) {
  using V = simd::GenericVec<16>;
  for (int64_t n : kSizes) {
    const uint32_t seed = static_cast<uint32_t>(n) + 500;
    const std::vector<float> p0 = random_vector(n, seed + 1), g = random_vector(n, seed + 2),
                             m0 = random_vector(n, seed + 3, -0.1f, 0.1f),
                             v0 = random_vector(n, seed + 4, 0.0f, 0.01f);
    AdamStep a;
    a.step_size = 0.02f, a.weight_decay = 0.01f;
    std::vector<float> p = p0, p_ref = p0, m = m0, m_ref = m0, v = v0, v_ref = v0;
    impl::adam_update<V>(n, p.data(), g.data(), m.data(), v.data(), a, 2);
    adam_update_ref(n, p_ref.data(), g.data(), m_ref.data(), v_ref.data(), a);
    EXPECT_TRUE(all_close(p, p_ref, 1e-6f, 1e-6f)) << "adam n " << n;
    EXPECT_TRUE(all_close(v, v_ref, 1e-9f, 1e-6f)) << "adam n " << n;
    SgdStep s;
    s.lr = 0.1f, s.momentum = 0.9f, s.nesterov = true;
    std::vector<float> q = p0, q_ref = p0, b = m0, b_ref = m0;
    impl::sgd_update<V>(n, q.data(), g.data(), b.data(), s, 2);
    sgd_update_ref(n, q_ref.data(), g.data(), b_ref.data(), s);
    EXPECT_TRUE(all_close(q, q_ref, 1e-6f, 1e-6f)) << "sgd n " << n;
    EXPECT_TRUE(all_close(b, b_ref, 1e-6f, 1e-6f)) << "sgd n " << n;
    std::vector<float> x = p0, x_ref = p0;
    impl::scale_in_place<V>(n, x.data(), 1.5f, 2);
    scale_in_place_ref(n, x_ref.data(), 1.5f);
    EXPECT_EQ(x, x_ref) << "scale n " << n;
    EXPECT_NEAR(impl::sum_of_squares<V>(n, p0.data(), 2), sum_of_squares_ref(n, p0.data()),
                1e-12 * sum_of_squares_ref(n, p0.data()))
        << "sum of squares n " << n;
  }
}

}  // namespace
