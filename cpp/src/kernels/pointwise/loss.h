// The mean squared error loss as plain loops (what the op runs; cross-entropy lives in
// softmax.h, fused with its softmax).
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// pred, target (n), n >= 1 -> mean of (pred - target)^2, accumulated in double.
float mse_forward(int64_t n, const float* pred, const float* target);
// dpred (n) = g * 2 (pred - target) / n, dtarget (n) = -dpred; either may be null.
void mse_backward(int64_t n, const float* pred, const float* target, float g, float* dpred,
                  float* dtarget);

}  // namespace pocketcnn::kernels
