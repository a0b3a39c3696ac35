// Convolution on the GEMM microkernels of gemm_impl.h, written once for every ISA.
//
// Design (measured on the 2-core Zen machine, see README "Performance"):
// - 3x3 stride 1 with >= 8 channels in and out (the lecture net's conv 2, the 64->64 layer):
//   Winograd F(2x2, 3x3), winograd_impl.h, for the forward pass, the fused forward + pool, the
//   weight gradient and the input gradient (the forward's adjoint; with both gradients wanted,
//   conv2d_backward makes dy's transform once for the two). Small images in batches of at least
//   one vector of them (inference) or of whole vectors (training: forward and both gradients)
//   take Winograd F(4x4, 3x3) instead, with the vector lanes over images (winograd4_impl.h).
//   Everything else:
// - Stride 1 (every layer of the lecture net and the 64->64 target): no im2col. Each image's
//   input is copied once into a zero-padded plane (C, Hp, Wp); then output pixel m = p*Wp + q of
//   channel k is sum_{c,r,s} w[k,c,r,s] * xpad[c*Hp*Wp + r*Wp + s + m], a GEMM whose B rows are
//   the padded input shifted by a per-(c,r,s) offset (gemm_nn with an offset table). Outputs are
//   computed Wp wide; the S-1 "junk" columns per row are dropped while the result is copied to
//   NCHW, and that copy also adds the bias and applies the fused activation. Costs: (Wp-Q)/Wp
//   extra FMAs (3.4% at 56x56 pad 1) plus two cheap passes over memory, against an im2col copy
//   that is R*S times the input (93 of 148 ms in numpy's im2col on the target layer).
// - Input gradient, stride 1: the same forward kernel on dy padded by (R-1-pad) with the
//   weights flipped and transposed (C, K, R, S) -- or, where that computes many taps in the
//   padding (small images: 1.6x the useful FMAs for the lecture net's 13x13), a GEMM
//   col = w^T dy on dy's rows as they are (1.06x) plus a gather of col's shifted rows into dx
//   with lane masks (see dgrad_col_image).
// - Inference: conv + bias + ReLU + 2x2 max pool in one call, the pool being the GEMM epilogue.
// - Weight gradient, stride 1 on images of >= 1024 output pixels (smaller ones: im2col of a stack
//   of images, see conv2d_backward_weight): dw[k, (c,r,s)] = sum_m dy_wide[k, m] * xpad[off + m]
//   where dy_wide is dy with zeroed junk columns: gemm_nt (dot products along the pixels), summed
//   over the images a thread owns, then over threads in thread order (deterministic for a given
//   thread count).
// - Other strides (conv_strided_impl.h): the input split into stride_h x stride_w phase planes,
//   on which every tap is a shifted row again, so the forward is the stride-1 offset GEMM on them
//   (or im2col + GEMM where the phase planes' junk columns cost more, small outputs); im2col
//   (weight gradient) copies whole rows of phase planes. The input gradient is one stride-1
//   correlation of dy per phase on the blocked direct kernel (conv_dgrad_phases_impl.h), or, with
//   few channels or tiny outputs, col = w^T dy added back by rows of phase planes (col2im).
// - Threads: over images when there are at least as many images as threads (no synchronisation
//   inside a layer), else inside each GEMM over column tiles.
//
// The parts: conv_direct_impl.h (building blocks), conv_algo_impl.h (the choice),
// conv_forward_impl.h, conv_dgrad_impl.h (input gradient; conv_dgrad_phases_impl.h strided),
// conv_wgrad_impl.h (weight gradient), conv_strided_impl.h (strides > 1), winograd_impl.h
// (F(2x2, 3x3)), winograd4_impl.h (F(4x4, 3x3)); here the backward that takes both gradients.
#pragma once

#include "kernels/conv/conv_avgpool_impl.h"
#include "kernels/conv/conv_dgrad_impl.h"
#include "kernels/conv/conv_forward_impl.h"
#include "kernels/conv/conv_wgrad_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage: each ISA's translation unit gets its own copy of every helper, so the linker
// can never pick an AVX-512-compiled copy for the scalar code path (an ODR trap of per-file flags).
namespace {

// Both gradients of a layer (dx or dw may be null; db may be null). Where Winograd takes both,
// one pass makes the output-gradient transform once for the two.
// saved (may be null): what conv2d_forward_algo saved for this layer and batch (x is then not
// read).
template <class V, class Cfg>
void conv2d_backward_algo(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                          float* dx, float* dw, float* db, int threads, ConvAlgo algo,
                          const float* saved = nullptr) {
  if (dw && use_winograd4_training<V>(algo, g) && g.P * g.Q > 0 && g.C * g.K > 0) {
    winograd4_backward<V, Cfg>(g, x, w, dy, dx, dw, db, threads, saved);
    return;
  }
  if (algo == ConvAlgo::winograd4) algo = ConvAlgo::winograd;
  if (dw && use_winograd(algo, g) && g.N > 0 && g.P * g.Q > 0 && g.C * g.K > 0) {
    winograd_backward<V, Cfg>(g, x, w, dy, dx, dw, db, threads, 0, saved);
    return;
  }
  if (dx) conv2d_backward_input<V, Cfg>(g, dy, w, dx, threads);
  if (dw) conv2d_backward_weight_algo<V, Cfg>(g, x, dy, dw, db, threads, algo);
}

template <class V, class Cfg>
void conv2d_backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, int threads, const float* saved = nullptr) {
  conv2d_backward_algo<V, Cfg>(g, x, w, dy, dx, dw, db, threads, ConvAlgo::automatic, saved);
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
