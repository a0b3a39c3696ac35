// Helpers for the tests that run whole ops or plans on Tensors: random tensors and their values.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel_test_util.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::testing {

// A tensor of shape s with values uniform in [-scale, scale).
inline Tensor rand_tensor(const Shape& s, uint32_t seed, float scale = 1.0f) {
  std::vector<float> v = random_vector(shape_numel(s), seed);
  for (float& x : v) x *= scale;
  return Tensor::from_vector(s, v);
}

inline std::vector<float> values(const Tensor& t) {
  return {t.data(), t.data() + t.numel()};
}

}  // namespace pocketcnn::testing
