// Fast pooling: the entry points the ops call (ISA-dispatched, threaded). Same contracts as
// pool2d_ref.h, which the tests compare against. The common 2x2 / stride 2 / no-padding max pool
// (every pooling layer of the lecture net, and the benchmark target) has its own vectorised path;
// other geometries the general separable one (pool/pool_general_impl.h; average pooling too:
// pool/avg_pool2d.h).
#pragma once

#include <cstdint>

#include "kernels/pool/pool_geometry.h"

namespace pocketcnn::kernels {

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                         float* dx);

// For 2x2 / stride 2 / no padding the training forward keeps, instead of an int32 argmax, each
// window's winner as a float 0..3 (top left, top right, bottom left, bottom right; the reference's
// argmax, ties and NaN included), written from the same vectors as y; the backward reads only
// winners and dy. (It used to find the winner again from x and y, which kept the pool's input --
// four times the winners' size -- alive until backward.)
bool max_pool2d_keeps_winners(const Pool2dGeometry& g);
// y and winners (both (N, C, P, Q)); only where max_pool2d_keeps_winners(g).
void max_pool2d_forward_winners(const Pool2dGeometry& g, const float* x, float* y, float* winners);
// dx from dy and the forward's winners; only where max_pool2d_keeps_winners(g).
void max_pool2d_backward_from_winners(const Pool2dGeometry& g, const float* dy,
                                      const float* winners, float* dx);

}  // namespace pocketcnn::kernels
