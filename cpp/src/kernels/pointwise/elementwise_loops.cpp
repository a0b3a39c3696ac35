#include "kernels/pointwise/elementwise_loops.h"

#include <algorithm>
#include <cmath>

#include "kernels/pointwise/broadcast.h"

namespace pocketcnn::kernels {

namespace {
// Sigmoid without overflow: exp is only ever taken of a non-positive number.
float stable_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}
}  // namespace

void unary_forward_loop(UnaryOp op, int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (op) {
      case UnaryOp::Relu:
        y[i] = v < 0.0f ? 0.0f : v;  // nan stays nan, like numpy.maximum
        break;
      case UnaryOp::Sigmoid:
        y[i] = stable_sigmoid(v);
        break;
      case UnaryOp::Tanh:
        y[i] = std::tanh(v);
        break;
      case UnaryOp::Exp:
        y[i] = std::exp(v);
        break;
      case UnaryOp::Log:
        y[i] = std::log(v);
        break;
      case UnaryOp::Neg:
        y[i] = -v;
        break;
    }
  }
}

void unary_backward_loop(UnaryOp op, int64_t n, const float* x, const float* y, const float* dy,
                         float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case UnaryOp::Relu:
        dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;  // 0 at x == 0, as PyTorch
        break;
      case UnaryOp::Sigmoid:
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
      case UnaryOp::Tanh:
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
      case UnaryOp::Exp:
        dx[i] = dy[i] * y[i];
        break;
      case UnaryOp::Log:
        dx[i] = dy[i] / x[i];
        break;
      case UnaryOp::Neg:
        dx[i] = -dy[i];
        break;
    }
  }
}

void scalar_forward(ScalarOp op, int64_t n, const float* x, float s, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (op) {
      case ScalarOp::Add:
        y[i] = v + s;
        break;
      case ScalarOp::Mul:
        y[i] = v * s;
        break;
      case ScalarOp::RSub:
        y[i] = s - v;
        break;
      case ScalarOp::RDiv:
        y[i] = s / v;
        break;
      case ScalarOp::Pow:
        y[i] = static_cast<float>(std::pow(static_cast<double>(v), static_cast<double>(s)));
        break;
    }
  }
}

void scalar_backward(ScalarOp op, int64_t n, const float* x, float s, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    switch (op) {
      case ScalarOp::Add:
        dx[i] = dy[i];
        break;
      case ScalarOp::Mul:
        dx[i] = dy[i] * s;
        break;
      case ScalarOp::RSub:
        dx[i] = -dy[i];
        break;
      case ScalarOp::RDiv:  // d(s/x)/dx = -s / x^2
        dx[i] = dy[i] * (-s / (v * v));
        break;
      case ScalarOp::Pow:  // d(x^s)/dx = s x^(s-1)
        if (s == 0.0f) {
          dx[i] = 0.0f;
        } else {
          const double d = static_cast<double>(s) *
                           std::pow(static_cast<double>(v), static_cast<double>(s) - 1.0);
          dx[i] = static_cast<float>(static_cast<double>(dy[i]) * d);
        }
        break;
    }
  }
}

void binary_forward(BinaryOp op, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& a_strides, const float* a,
                    const std::vector<int64_t>& b_strides, const float* b, float* y) {
  for_each_index(shape, a_strides, b_strides, [&](int64_t i, int64_t ia, int64_t ib) {
    switch (op) {
      case BinaryOp::Add:
        y[i] = a[ia] + b[ib];
        break;
      case BinaryOp::Sub:
        y[i] = a[ia] - b[ib];
        break;
      case BinaryOp::Mul:
        y[i] = a[ia] * b[ib];
        break;
      case BinaryOp::Div:
        y[i] = a[ia] / b[ib];
        break;
    }
  });
}

void binary_backward(BinaryOp op, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& a_strides, const float* a,
                     const std::vector<int64_t>& b_strides, const float* b, const float* dy,
                     float* da_full, float* db_full) {
  for_each_index(shape, a_strides, b_strides, [&](int64_t i, int64_t ia, int64_t ib) {
    const float g = dy[i];
    switch (op) {
      case BinaryOp::Add:
        if (da_full) da_full[i] = g;
        if (db_full) db_full[i] = g;
        break;
      case BinaryOp::Sub:
        if (da_full) da_full[i] = g;
        if (db_full) db_full[i] = -g;
        break;
      case BinaryOp::Mul:
        if (da_full) da_full[i] = g * b[ib];
        if (db_full) db_full[i] = g * a[ia];
        break;
      case BinaryOp::Div:  // d(a/b)/da = 1/b, d(a/b)/db = -a / b^2
        if (da_full) da_full[i] = g / b[ib];
        if (db_full) db_full[i] = -g * a[ia] / (b[ib] * b[ib]);
        break;
    }
  });
}

namespace {

// When x is repeated along trailing dims only (x_strides 0 from some dim d on, C-contiguous
// before it: the gradient of a mean over H, W), each x element fills one contiguous row of y: the
// length of that row, else 0 (then the generic index walk, ~3 ns a float).
int64_t repeated_row(const std::vector<int64_t>& shape, const std::vector<int64_t>& x_strides) {
  size_t d = shape.size();
  int64_t row = 1;
  while (d > 0 && x_strides[d - 1] == 0) row *= shape[--d];
  int64_t stride = 1;
  for (size_t i = d; i-- > 0;) {
    if (x_strides[i] != stride && shape[i] != 1) return 0;
    stride *= shape[i];
  }
  return row;
}

}  // namespace

void broadcast_to(const std::vector<int64_t>& shape, const std::vector<int64_t>& x_strides,
                  const float* x, float* y) {
  const int64_t row = repeated_row(shape, x_strides);
  if (row > 0) {
    int64_t rows = 1;
    for (int64_t s : shape) rows *= s;
    rows /= row;
    for (int64_t j = 0; j < rows; ++j) std::fill(y + j * row, y + (j + 1) * row, x[j]);
    return;
  }
  for_each_index(shape, x_strides, x_strides,
                 [&](int64_t i, int64_t ix, int64_t /*unused*/) { y[i] = x[ix]; });
}

}  // namespace pocketcnn::kernels
