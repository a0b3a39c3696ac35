// The shape batch normalisation sees: x is (N, C, HW) in memory (NCHW images with HW = H * W,
// or (N, C) features with HW = 1); statistics are per channel, over N and HW.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

struct BatchNormGeometry {
  int64_t N = 0, C = 0, HW = 1;
  int64_t per_channel() const { return N * HW; }
};

}  // namespace pocketcnn::kernels
