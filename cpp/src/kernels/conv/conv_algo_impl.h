// Which algorithm a convolution takes (direct, Winograd F(2x2) or F(4x4)): one place the
// forward, the saved floats and the backward all ask, so they agree.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/winograd4_impl.h"
#include "kernels/conv/winograd_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Which algorithm a convolution's forward pass or weight gradient uses (tests force each one;
// the ops pick). winograd: F(2x2, 3x3); winograd4: F(4x4, 3x3) over image lanes (the forward,
// and training's forward + backward on blocks of images, the last one possibly padded).
enum class ConvAlgo { automatic, direct, winograd, winograd4 };

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

}  // namespace
}  // namespace pocketcnn::kernels::impl
