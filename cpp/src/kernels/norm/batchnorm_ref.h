// Reference batch-normalisation kernels: plain loops with double accumulators, the oracle the
// fast kernels (batchnorm.h) are tested against. Same contracts as those.
#pragma once

#include "kernels/norm/batchnorm_geometry.h"

namespace pocketcnn::kernels {

// mean[c] and the biased variance var[c] = mean over (n, hw) of (x - mean[c])^2.
void batchnorm_stats_ref(const BatchNormGeometry& g, const float* x, float* mean, float* var);
// y = x * scale[c] + shift[c] (the normalisation once scale and shift are folded).
void batchnorm_apply_ref(const BatchNormGeometry& g, const float* x, const float* scale,
                         const float* shift, float* y);
// Gradients of y = gamma * (x - mean) * invstd + beta. With batch_stats, mean and invstd are the
// batch's (so they depend on x: the full formula); without, they are constants (inference mode).
// gamma may be null (= 1); dx, dgamma, dbeta may each be null (not wanted).
void batchnorm_backward_ref(const BatchNormGeometry& g, bool batch_stats, const float* x,
                            const float* mean, const float* invstd, const float* gamma,
                            const float* dy, float* dx, float* dgamma, float* dbeta);

}  // namespace pocketcnn::kernels
