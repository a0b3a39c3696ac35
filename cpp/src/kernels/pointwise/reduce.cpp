#include "kernels/pointwise/reduce.h"

#include "kernels/pointwise/broadcast.h"
#include "kernels/pointwise/elementwise_loops.h"
#include "kernels/runtime/parallel.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

namespace {

// When y keeps x's leading dims and sums away all the others (a mean over H, W: the global
// average pool), each y element is the sum of one contiguous row of x: the length of that row,
// else 0 (then the generic index walk below, ~3 ns a float, runs instead).
int64_t trailing_row(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& y_shape) {
  const size_t nd = x_shape.size(), offset = nd - y_shape.size();
  auto y_dim = [&](size_t i) { return i < offset ? int64_t{1} : y_shape[i - offset]; };
  size_t d = nd;  // y is 1 from dim d on
  while (d > 0 && y_dim(d - 1) == 1) --d;
  int64_t row = 1;
  for (size_t i = 0; i < nd; ++i) {
    if (i < d && y_dim(i) != x_shape[i]) return 0;
    if (i >= d) row *= x_shape[i];
  }
  return row;
}

// dx row j = dy[j] * scale for rows [j0, j1) of `row` floats.
void repeat_rows_scaled(int64_t j0, int64_t j1, int64_t row, const float* dy, float scale,
                        float* dx) {
  for (int64_t j = j0; j < j1; ++j) {
    const float v = dy[j] * scale;
    float* out = dx + j * row;
    for (int64_t i = 0; i < row; ++i) out[i] = v;
  }
}

}  // namespace

void sum_to_shape_backward(const std::vector<int64_t>& x_shape, const std::vector<int64_t>& y_shape,
                           const float* dy, float scale, float* dx) {
  const int64_t row = trailing_row(x_shape, y_shape);
  if (row == 0) {  // the reference: the index walk, then a second pass for the scale
    int64_t n = 1;
    for (int64_t d : x_shape) n *= d;
    broadcast_to(x_shape, broadcast_strides(y_shape, x_shape), dy, dx);
    if (scale != 1.0f) scalar_forward(ScalarOp::Mul, n, dx, scale, dx);
    return;
  }
  // The global average pool's gradient (small ResNet: 64 x 64 rows of 49): one threaded pass
  // instead of a serial fill and a serial scalar multiply (0.36 ms a step on the calling thread).
  int64_t rows = 1;
  for (int64_t d : y_shape) rows *= d;
  const double bytes = 4.0 * static_cast<double>(rows) * static_cast<double>(row + 1);
  const int nt = threads_for_bytes(rows, bytes, get_num_threads());
  parallel_for(rows, nt,
               [&](int64_t j0, int64_t j1) { repeat_rows_scaled(j0, j1, row, dy, scale, dx); });
}

void sum_to_shape(const std::vector<int64_t>& x_shape, const float* x,
                  const std::vector<int64_t>& y_shape, float* y) {
  int64_t ny = 1;
  for (int64_t d : y_shape) ny *= d;
  const int64_t row = trailing_row(x_shape, y_shape);
  if (row > 0) {  // the same sums in the same order (double, C order) as the walk below
    for (int64_t j = 0; j < ny; ++j) {
      double acc = 0.0;
      for (int64_t i = 0; i < row; ++i) acc += x[j * row + i];
      y[j] = static_cast<float>(acc);
    }
    return;
  }
  std::vector<double> acc(static_cast<size_t>(ny), 0.0);
  // y read as if broadcast to x: every x element lands on the y element it was broadcast from.
  const std::vector<int64_t> y_strides = broadcast_strides(y_shape, x_shape);
  for_each_index(x_shape, y_strides, y_strides,
                 [&](int64_t i, int64_t iy, int64_t /*unused*/) { acc[iy] += x[i]; });
  for (int64_t j = 0; j < ny; ++j) y[j] = static_cast<float>(acc[j]);
}

}  // namespace pocketcnn::kernels
