// The register-blocked direct convolution (conv_direct_blocked_impl.h) against the reference:
// forced on many shapes with each ISA's tiles on portable vectors, and through the dispatched
// entry point (where the automatic choice takes it) under every ISA and thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv2d_impl.h"
#include "kernels/conv/conv2d_ref.h"
#include "kernels/isa/block_configs.h"
#include "kernels/isa/simd_generic.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::all_close;
using pocketcnn::testing::random_vector;

namespace {

struct Case {
  int64_t N, C, H, W, K, R, S, sh, sw, pt, pl, pb, pr;
};

Conv2dGeometry geometry(const Case& c) {
  return make_conv2d_geometry({c.N, c.C, c.H, c.W}, {c.K, c.C, c.R, c.S},
                              {c.sh, c.sw, c.pt, c.pl, c.pb, c.pr});
}

std::string describe(const Case& c) {
  return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
         std::to_string(c.W) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
         std::to_string(c.S) + " s" + std::to_string(c.sh) + "," + std::to_string(c.sw) + " pad " +
         std::to_string(c.pt) + "," + std::to_string(c.pl) + "," + std::to_string(c.pb) + "," +
         std::to_string(c.pr);
}

// Stride 1 and 2, pad 0 and 1 (and asymmetric), widths that are not a multiple of any tile, C and
// K not multiples of 16, one image and several, 5x5 and non-square kernels, stride 2 down only.
std::vector<Case> cases() {
  return {
      {2, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1},  // allconv layer 2
      {2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0},   // LeNet-5 conv 2 (automatic on 8 lanes)
      {1, 5, 9, 11, 20, 5, 5, 1, 1, 2, 1, 0, 2},    // LeNet-like, odd sizes, asymmetric pad
      {1, 6, 5, 5, 16, 5, 5, 1, 1, 0, 0, 0, 0},     // LeNet-like 1x1 output
      {3, 64, 8, 8, 128, 3, 3, 2, 2, 1, 1, 1, 1},   // allconv layer 3 (4x4 outputs)
      {1, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 1, 1},  // small ResNet stage 1 conv 1
      {2, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1},
      {1, 17, 13, 11, 19, 3, 3, 1, 1, 0, 0, 0, 0},  // odd sizes, pad 0
      {2, 20, 15, 17, 40, 3, 3, 2, 2, 1, 1, 1, 1},  // odd widths, K = 40
      {1, 16, 9, 23, 33, 3, 3, 1, 1, 1, 0, 0, 1},   // asymmetric pad, K = 33
      {2, 18, 12, 12, 16, 5, 5, 1, 1, 2, 2, 2, 2},  // 5x5
      {1, 16, 11, 10, 24, 3, 2, 2, 1, 1, 0, 1, 1},  // non-square kernel, stride 2 down only
      {4, 24, 7, 7, 48, 3, 3, 1, 1, 1, 1, 1, 1},    // 7x7 images
      {1, 3, 9, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1},      // few channels (forced only)
  };
}

float tolerance(const Conv2dGeometry& g) {
  return 2e-5f * (g.C * g.R * g.S + g.K + 1);
}

struct Problem {
  Conv2dGeometry g;
  std::vector<float> x, w, b, want;
};

Problem make_problem(const Case& c, uint32_t seed, bool relu) {
  Problem p;
  p.g = geometry(c);
  p.x = random_vector(c.N * c.C * c.H * c.W, seed);
  p.w = random_vector(c.K * c.C * c.R * c.S, seed + 1);
  p.b = random_vector(c.K, seed + 2);
  p.want.resize(c.N * c.K * p.g.P * p.g.Q);
  conv2d_forward_ref(p.g, p.x.data(), p.w.data(), p.b.data(), p.want.data());
  if (relu) {
    for (float& v : p.want) v = std::max(v, 0.0f);
  }
  return p;
}

// Forced on every case where a tile fits, 1 to 3 threads (the same floats on each).
template <class V, class Cfg>
void check_forced(const char* isa) {
  uint32_t seed = 40;
  int checked = 0;
  for (const Case& c : cases()) {
    Problem p = make_problem(c, seed += 10, true);
    if (!impl::direct_blocked_applies<V>(p.g)) continue;
    std::vector<float> first;
    for (int threads = 1; threads <= 3; ++threads) {
      std::vector<float> got(p.want.size(), 77.0f);
      impl::conv2d_forward_algo<V, Cfg>(p.g, p.x.data(), p.w.data(), p.b.data(), got.data(),
                                        Activation::relu, threads, impl::ConvAlgo::direct_blocked);
      EXPECT_TRUE(all_close(got, p.want, tolerance(p.g))) << describe(c) << " " << isa;
      if (threads == 1) first = got;
      EXPECT_EQ(got, first) << describe(c) << " " << isa << ": " << threads << " threads";
    }
    ++checked;
  }
  EXPECT_GE(checked, 10) << isa;
}

TEST(ConvDirectBlocked, ForcedAgreesWithTheReference) {
  check_forced<simd::GenericVec<8>, Avx2Cfg>("16-register tiles");
  check_forced<simd::GenericVec<16>, Avx512Cfg>("32-register tiles");
}

// Without a bias and with every tile of each register budget (each compiled tile checked once).
TEST(ConvDirectBlocked, EveryTileNoBias) {
  using V = simd::GenericVec<16>;
  const Case c{2, 16, 12, 15, 40, 3, 3, 1, 1, 1, 1, 1, 1};
  Problem p = make_problem(c, 7, false);
  const float* no_bias = nullptr;
  std::vector<float> want(p.want.size());
  conv2d_forward_ref(p.g, p.x.data(), p.w.data(), no_bias, want.data());
  const auto run_tile = [&](const impl::DirectTile& t, auto vec) {
    using VT = decltype(vec);
    const impl::DirectPlanes d = impl::direct_planes(p.g);
    std::vector<float> xp(p.g.C * d.plane + VT::W);
    const int64_t KB = t.kv * VT::W, blocks = (p.g.K + KB - 1) / KB, CRS = p.g.C * 9;
    std::vector<float> wp(impl::direct_packed_floats<VT>(p.g, t.kv)), bias(blocks * KB, 0.0f);
    impl::pack_direct_weights<VT>(p.g, t.kv, p.w.data(), wp.data());
    std::vector<int64_t> off(CRS);
    for (int64_t i = 0; i < CRS; ++i) off[i] = (i / 9) * d.plane + (i % 9 / 3) * d.Wp + i % 3;
    std::vector<float> yb((p.g.P * p.g.Q + VT::W) * KB);
    const impl::DirectBuffers buf{xp.data(), off.data(), yb.data()};
    std::vector<float> got(want.size(), 5.0f);
    const auto run = impl::direct_blocks_for<VT>(t, 1);
    ASSERT_NE(run, nullptr);
    const int64_t PQ = p.g.P * p.g.Q, CHW = p.g.C * p.g.H * p.g.W;
    for (int64_t n = 0; n < p.g.N; ++n) {
      for (int64_t ch = 0; ch < p.g.C; ++ch) {
        impl::pad_plane(p.x.data() + n * CHW + ch * p.g.H * p.g.W, p.g.H, p.g.W,
                        xp.data() + ch * d.plane, d.Hp, d.Wp, p.g.pad_top, p.g.pad_left);
      }
      run(p.g, d, buf, wp.data(), bias.data(), 0, blocks, Activation::none,
          got.data() + n * p.g.K * PQ);
    }
    EXPECT_TRUE(all_close(got, want, tolerance(p.g)))
        << "tile " << t.kv << "x" << t.nr << "x" << t.nq << " W" << VT::W;
  };
  for (const impl::DirectTile& t : impl::kDirectTiles32) run_tile(t, V{});
  for (const impl::DirectTile& t : impl::kDirectTiles16) run_tile(t, simd::GenericVec<8>{});
}

// The choice: strided layers with C, K >= 16 take it, and 3x3 stride-2 first layers (C <= 4);
// stride 1, 1x1, other few-channel layers and outputs narrower than every tile do not.
TEST(ConvDirectBlocked, AutomaticChoice) {
  using V = simd::GenericVec<16>;
  const auto picks = [](const Case& c) {
    return impl::use_direct_blocked<V>(impl::ConvAlgo::automatic, geometry(c));
  };
  EXPECT_TRUE(picks({64, 32, 16, 16, 64, 3, 3, 2, 2, 1, 1, 1, 1}));
  EXPECT_TRUE(picks({64, 64, 8, 8, 128, 3, 3, 2, 2, 1, 1, 1, 1}));
  EXPECT_TRUE(picks({64, 3, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1}));    // allconv's first layer
  EXPECT_FALSE(picks({64, 3, 64, 64, 32, 7, 7, 2, 2, 3, 3, 3, 3}));   // the stem: conv_small_c
  EXPECT_FALSE(picks({64, 3, 32, 32, 8, 3, 3, 2, 2, 1, 1, 1, 1}));    // K = 8
  EXPECT_FALSE(picks({1, 64, 4, 4, 64, 3, 3, 2, 2, 1, 1, 1, 1}));     // 2x2 outputs
  EXPECT_FALSE(picks({64, 64, 16, 16, 64, 1, 1, 1, 1, 0, 0, 0, 0}));  // 1x1: one GEMM
  EXPECT_FALSE(picks({64, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1}));  // Winograd's
  EXPECT_FALSE(picks({64, 32, 16, 16, 64, 5, 5, 1, 1, 2, 2, 2, 2}));  // stride 1: banded GEMM
}

// LeNet-5's conv 2 (6->16 5x5 on 14x14, stride 1) takes it on 8 and 16 lanes; its conv 1 (K = 6)
// and wider stride-1 images stay on the banded GEMM.
TEST(ConvDirectBlocked, AutomaticChoiceLeNet) {
  const auto picks = [](const Case& c, auto vec) {
    return impl::use_direct_blocked<decltype(vec)>(impl::ConvAlgo::automatic, geometry(c));
  };
  const simd::GenericVec<8> v8;
  EXPECT_TRUE(picks({256, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0}, v8));
  EXPECT_TRUE(picks({1, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0}, v8));
  EXPECT_TRUE(picks({256, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0}, simd::GenericVec<16>()));
  EXPECT_FALSE(picks({256, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2}, simd::GenericVec<16>()));
  EXPECT_FALSE(picks({256, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2}, v8));   // conv 1: K = 6
  EXPECT_FALSE(picks({64, 3, 32, 32, 32, 5, 5, 1, 1, 2, 2, 2, 2}, v8));   // 32x32 output
  EXPECT_FALSE(picks({64, 16, 14, 14, 32, 5, 5, 1, 1, 0, 0, 0, 0}, v8));  // C = 16
}

// Through the dispatched entry point under every ISA and 1-3 threads, on the cases the automatic
// choice sends to the blocked kernel (checked, so the test cannot silently test something else).
class ConvDirectBlockedIsa : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ConvDirectBlockedIsa, DispatchedForwardMatchesReference) {
  uint32_t seed = 300;
  int checked = 0;
  for (const Case& c : cases()) {
    Problem p = make_problem(c, seed += 10, false);
    if (!impl::use_direct_blocked<simd::GenericVec<8>>(impl::ConvAlgo::automatic, p.g)) continue;
    std::vector<float> got(p.want.size(), -3.0f);
    conv2d_forward(p.g, p.x.data(), p.w.data(), p.b.data(), got.data());
    EXPECT_TRUE(all_close(got, p.want, tolerance(p.g))) << describe(c);
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ConvDirectBlockedIsa);

}  // namespace
