// Fast batch-normalisation kernels the batch_norm op calls (ISA-dispatched: each channel's
// sums are vectorised over HW, channels are split over threads, so every channel is summed by one
// thread in a fixed order and results do not depend on the thread count). Contracts as in
// batchnorm_ref.h, which they are tested against.
#pragma once

#include "kernels/norm/batchnorm_geometry.h"

namespace pocketcnn::kernels {

void batchnorm_stats(const BatchNormGeometry& g, const float* x, float* mean, float* var);
void batchnorm_apply(const BatchNormGeometry& g, const float* x, const float* scale,
                     const float* shift, float* y);
void batchnorm_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                        const float* mean, const float* invstd, const float* gamma, const float* dy,
                        float* dx, float* dgamma, float* dbeta);
// Training's BatchNormalization + ReLU in one op: y = max(0, x * scale + shift), and the backward
// of that (dy through the ReLU's mask, recomputed from x, scale and shift, then as above).
void batchnorm_apply_relu(const BatchNormGeometry& g, const float* x, const float* scale,
                          const float* shift, float* y);
void batchnorm_relu_backward(const BatchNormGeometry& g, bool batch_stats, const float* x,
                             const float* mean, const float* invstd, const float* gamma,
                             const float* scale, const float* shift, const float* dy, float* dx,
                             float* dgamma, float* dbeta);

}  // namespace pocketcnn::kernels
