// Which algorithm a convolution takes (direct, Winograd F(2x2) or F(4x4)): one place the
// forward, the saved floats and the backward all ask, so they agree.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv_direct_blocked_impl.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/conv_small_c_impl.h"
#include "kernels/conv/winograd4_impl.h"
#include "kernels/conv/winograd_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Which algorithm a convolution's forward pass or weight gradient uses (tests force each one;
// the ops pick). winograd: F(2x2, 3x3); winograd4: F(4x4, 3x3) over image lanes (the forward,
// and training's forward + backward on blocks of images, the last one possibly padded).
// A strided forward takes the phase planes (conv_strided_impl.h) or im2col by cost; direct forces
// the phase planes, im2col forces im2col. direct_blocked forces the register-blocked direct
// kernel (conv_direct_blocked_impl.h) where it applies (else the automatic choice).
// small_c forces the few-input-channels direct kernel (conv_small_c_impl.h) where it applies.
enum class ConvAlgo { automatic, direct, winograd, winograd4, im2col, direct_blocked, small_c };

// Winograd F(2x2, 3x3) (winograd_impl.h) for 3x3 stride-1 layers with enough channels on both
// sides for its 16 GEMMs (J = C, M = K) to keep the microkernel busy: 2.25x fewer FMAs than the
// direct correlation. Conv 1 of the lecture net (C = 1) stays direct.
constexpr int64_t kWinogradMinChannels = 8;

inline bool winograd_applies(const Conv2dGeometry& g) {
  return g.R == 3 && g.S == 3 && g.stride_h == 1 && g.stride_w == 1;
}

inline bool winograd_suits(int64_t C, int64_t K, const Conv2dGeometry& g) {
  return winograd_applies(g) && C >= kWinogradMinChannels && K >= kWinogradMinChannels;
}

// Forcing Winograd on a layer it does not apply to (not 3x3 stride 1) runs the direct path.
inline bool use_winograd(ConvAlgo algo, const Conv2dGeometry& g) {
  if (algo == ConvAlgo::automatic) return winograd_suits(g.C, g.K, g);
  return algo == ConvAlgo::winograd && winograd_applies(g);
}

// A forward pass that keeps nothing for a backward (inference) takes F(4x4, 3x3)
// (winograd4_impl.h) where Winograd suits the layer, its images are small enough for blocks of
// V::W of them, and the batch fills at least one block: 36 multiply-adds per 16 outputs per
// channel pair against F(2x2)'s 64. A smaller batch stays on F(2x2): with lanes over one image's
// few tiles F(4x4) wastes most of its GEMM columns (the lecture net's conv 2 + pool at batch 1:
// 31 us against 21). So every batch of at least V::W images gives the same floats for an image,
// and so does every smaller batch; the two differ in the last bits. The fused forward + pool
// decides the same way as the forward.
// Forcing winograd4 on a layer Winograd does not apply to runs the direct path. (A forward that
// saves for the backward decides by use_winograd4_training below.)
template <class V>
bool use_winograd4(ConvAlgo algo, const Conv2dGeometry& g, bool saving) {
  if (saving || !winograd_applies(g)) return false;
  if (algo == ConvAlgo::winograd4) return true;
  return algo == ConvAlgo::automatic && winograd_suits(g.C, g.K, g) && g.N >= V::W &&
         winograd4_suits<V>(g.C, g.P, g.Q);
}

// Training (a forward that saves for the backward, and that backward) takes F(4x4) too, on
// batches of at least V::W images that fill at least 3/4 of their blocks' lanes
// (winograd4_trains); other batches train with F(2x2).
// The forward, conv2d_saved_floats and the backward decide alike, so the backward reads the
// layout the forward saved.
template <class V>
bool use_winograd4_training(ConvAlgo algo, const Conv2dGeometry& g) {
  const bool winograd = algo == ConvAlgo::automatic
                            ? winograd_suits(g.C, g.K, g)
                            : algo == ConvAlgo::winograd4 && winograd_applies(g);
  return winograd && winograd4_trains<V>(g.N, g.C, g.P, g.Q);
}

// The register-blocked direct kernel takes strided layers with channels enough on both sides to
// fill its K-vectors and amortise the epilogue's transpose (issue #16: C, K >= 16); not 1x1 (one
// GEMM, conv_pointwise_impl.h: 25% of peak on 64->64 16x16 against 15% here, a tap per C too
// few FMAs per broadcast). Measured at batch 64, 1 thread, AVX-512 on a Zen 4 (thread CPU time,
// alternating with main), in % of 254 GFLOP/s (a Zen 5's peak; this Zen 4's, 115, is 2.2x lower):
// allconv layer 2 (32->64, 16x16 stride 2) 22 -> 28-31%, layer 3 (64->128, 8x8 stride 2)
// 24-27 -> 33-36%, the small ResNet's stride-2 layers 17-25 -> 22-30%. Stride 1
// stays on the banded GEMM (5x5 / 7x7 32->64 on 16x16: at par, 40%), whose fused pooling
// epilogues give the same floats as its plain forward.
constexpr int64_t kDirectBlockedMinChannels = 16;

// Stride 1 with few channels in, at least 16 out and 5x5 taps on small images (LeNet-5's conv 2,
// 6->16 5x5 on 14x14): the banded GEMM's rows are mostly padding there. AVX2, 1 thread, thread CPU
// time, min of reps (benchmarks/first_layers.cpp): batch 64 379 against 514 us (81 against 60
// GFLOP/s), batch 1 10.0 against 14.4 us. AVX-512 (one K-vector of 16) on a Zen 4, 3 runs:
// batch 64 424-454 against 540-581 us, batch 1 8.7-10.0 against 11.0-14.2 us.
template <class V>
bool direct_blocked_lenet(const Conv2dGeometry& g) {
  return g.C <= 8 && g.K >= 16 && g.K <= 32 && g.R * g.S >= 25 && g.P * g.Q <= 256;
}

template <class V>
bool use_direct_blocked(ConvAlgo algo, const Conv2dGeometry& g) {
  if (!direct_blocked_applies<V>(g)) return false;
  if (algo == ConvAlgo::direct_blocked) return true;
  if (algo != ConvAlgo::automatic) return false;
  const bool strided = g.stride_h > 1 || g.stride_w > 1;
  // A first layer (C <= 4) with 3x3 taps at stride 2: allconv's 3->32 on 32x32, 530 against 600
  // us at batch 64 and 9.2 against 10.6 us at batch 1 on the phase planes (AVX2, 1 thread,
  // thread CPU time, benchmarks/first_layers.cpp). Its 7x7 stride-2 stem stays off (0.95x).
  if (g.C <= kSmallCMaxChannels && strided && g.R * g.S <= 9 && g.K >= 16) return true;
  if (!strided && direct_blocked_lenet<V>(g)) return true;
  return g.C >= kDirectBlockedMinChannels && g.K >= kDirectBlockedMinChannels && g.R * g.S > 1 &&
         strided;
}

// The few-input-channels kernel (conv_small_c_impl.h) would take first layers with 5x5 taps+
// and channels enough out (K >= 16). Measured against the banded GEMM that ran them (AVX2, 1
// thread, thread CPU time, min of 10-200 reps, benchmarks/first_layers.cpp), batch 64 / batch 1:
// 3->32 5x5 on 32x32 3847 vs 4114 us / 59 vs 64 us; 7x7 6948 vs 7043 / 107 vs 107; the stem's
// 7x7 stride 2 on 64x64 7501 vs 7843 / 114 vs 123. Not taken: 3x3 (3->32 at par, 1->25 on 28x28
// 0.9x at batch 64) and LeNet's 1->6 5x5 (0.9x: 2 of its 3 channel lanes tiles wasted on K = 6).
constexpr bool kSmallCAuto = false;

template <class V>
bool use_small_c(ConvAlgo algo, const Conv2dGeometry& g) {
  if (!small_c_applies<V>(g)) return false;
  if (algo == ConvAlgo::small_c) return true;
  // Off for now: end to end (benchmarks/compare_builds.py against bench-suite's main, 3 rounds,
  // 1 thread) conv5x5_rgb inference b256 ran 0.81x and the stem 0.90x with it taken as above
  // (the fused 2x2 pool then goes through memory, and the plan's kept weights are not used).
  // kSmallCAuto re-enables it for measuring. AVX-512 (16 lanes) is unmeasured.
  return kSmallCAuto && algo == ConvAlgo::automatic && V::W <= 8 && g.R * g.S >= 25 && g.K >= 16;
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
