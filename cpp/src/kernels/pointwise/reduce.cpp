#include "kernels/pointwise/reduce.h"

#include "kernels/pointwise/broadcast.h"

namespace pocketcnn::kernels {

void sum_to_shape(const std::vector<int64_t>& x_shape, const float* x,
                  const std::vector<int64_t>& y_shape, float* y) {
  int64_t ny = 1;
  for (int64_t d : y_shape) ny *= d;
  std::vector<double> acc(static_cast<size_t>(ny), 0.0);
  // y read as if broadcast to x: every x element lands on the y element it was broadcast from.
  const std::vector<int64_t> y_strides = broadcast_strides(y_shape, x_shape);
  for_each_index(x_shape, y_strides, y_strides,
                 [&](int64_t i, int64_t iy, int64_t /*unused*/) { acc[iy] += x[i]; });
  for (int64_t j = 0; j < ny; ++j) y[j] = static_cast<float>(acc[j]);
}

}  // namespace pocketcnn::kernels
