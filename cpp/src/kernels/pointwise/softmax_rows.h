// The row statistics the plain softmax loops (softmax_ref.cpp) and the cross-entropy loss
// (softmax.cpp) both start from.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace pocketcnn::kernels {

// Maximum and sum of exp(x - max) of the D strided values row[0], row[inner], ...
// Sums in double: a row of many similar values loses no precision.
inline void max_and_sum_exp(int64_t D, int64_t inner, const float* row, float* max_out,
                            double* sum_out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t d = 0; d < D; ++d) m = row[d * inner] > m ? row[d * inner] : m;
  double s = 0.0;
  for (int64_t d = 0; d < D; ++d) s += std::exp(static_cast<double>(row[d * inner]) - m);
  *max_out = m;
  *sum_out = s;
}

}  // namespace pocketcnn::kernels
