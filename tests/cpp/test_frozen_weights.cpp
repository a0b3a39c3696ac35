// Kept weight packs (kernels/conv/frozen_weights.h): under a stamp the forward entry points reuse
// what they derived from w on an earlier call with that stamp; a new stamp (new weights) is
// derived again. Every algorithm family (direct, strided, 1x1, Winograd, fused pools) against
// the reference, under every ISA and thread count.
#include <gtest/gtest.h>

#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/frozen_weights.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::kernels {
namespace {

using pocketcnn::testing::all_close;
using pocketcnn::testing::IsaThreadsTest;
using pocketcnn::testing::random_vector;

struct Layer {
  Shape x, w;
  int64_t stride, pad;
};

// Direct 3x3 (C = 3), Winograd 3x3 (C, K >= 8), stride 2, 1x1, 5x5.
const Layer kLayers[] = {{{2, 3, 9, 9}, {8, 3, 3, 3}, 1, 1},
                         {{2, 16, 8, 8}, {16, 16, 3, 3}, 1, 1},
                         {{1, 8, 9, 9}, {16, 8, 3, 3}, 2, 1},
                         {{2, 16, 6, 6}, {12, 16, 1, 1}, 1, 0},
                         {{1, 4, 10, 10}, {6, 4, 5, 5}, 1, 2}};

class FrozenWeightsTest : public IsaThreadsTest {};

std::vector<float> forward(const Conv2dGeometry& g, const std::vector<float>& x,
                           const std::vector<float>& w, const std::vector<float>& b, int pool) {
  const int64_t P = pool ? g.P / 2 : g.P, Q = pool ? g.Q / 2 : g.Q;
  std::vector<float> y(static_cast<size_t>(g.N * g.K * P * Q));
  if (pool == 0) conv2d_forward(g, x.data(), w.data(), b.data(), y.data());
  if (pool == 1)
    conv2d_forward_maxpool2x2(g, x.data(), w.data(), b.data(), y.data(), Activation::relu);
  if (pool == 2)
    conv2d_forward_avgpool2x2(g, x.data(), w.data(), b.data(), y.data(), Activation::none);
  return y;
}

TEST_P(FrozenWeightsTest, KeptPacksFollowTheStampNotStaleWeights) {
  for (const Layer& l : kLayers) {
    const Conv2dGeometry g =
        make_conv2d_geometry(l.x, l.w, {l.stride, l.stride, l.pad, l.pad, l.pad, l.pad});
    const auto x = random_vector(static_cast<size_t>(shape_numel(l.x)), 1);
    const auto b = random_vector(static_cast<size_t>(l.w[0]), 2);
    auto w = random_vector(static_cast<size_t>(shape_numel(l.w)), 3);
    for (int pool = 0; pool < (l.stride == 1 ? 3 : 1); ++pool) {
      const std::vector<float> plain = forward(g, x, w, b, pool);
      const uint64_t first = new_frozen_weights_stamp();
      for (int call = 0; call < 2; ++call) {  // packs, then reuses
        FrozenWeightsScope scope(first);
        EXPECT_EQ(forward(g, x, w, b, pool), plain) << "pool " << pool << " call " << call;
      }
      std::vector<float> w2 = w;
      for (float& v : w2) v = -2.0f * v;  // new weights, same buffer shape
      std::vector<float> want = forward(g, x, w2, b, pool);
      if (pool == 0) {
        std::vector<float> ref(want.size());
        conv2d_forward_ref(g, x.data(), w2.data(), b.data(), ref.data());
        EXPECT_TRUE(all_close(want, ref, 1e-4f));
      }
      FrozenWeightsScope scope(new_frozen_weights_stamp());
      EXPECT_EQ(forward(g, x, w2, b, pool), want) << "pool " << pool << ": stale pack reused";
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(FrozenWeightsTest);

TEST(TensorVersion, SharedByHandlesAndBumped) {
  Tensor t = Tensor::zeros({2, 3});
  EXPECT_TRUE(t.writes_tracked());
  EXPECT_EQ(t.version(), 0u);
  Tensor v = t.view({6}), d = t.detach();
  t.bump_version();
  EXPECT_EQ(v.version(), 1u);
  EXPECT_EQ(d.version(), 1u);
  EXPECT_EQ(t.clone().version(), 0u);  // a copy is new data
  d.mark_foreign();
  EXPECT_FALSE(t.writes_tracked());
  std::vector<float> mem(4);
  Tensor wrapped = Tensor::wrap(mem.data(), {4}, nullptr);
  EXPECT_FALSE(wrapped.writes_tracked());  // the owner writes it unseen
}

}  // namespace
}  // namespace pocketcnn::kernels
