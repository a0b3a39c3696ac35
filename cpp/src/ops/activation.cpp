// Activations (relu, sigmoid, tanh) and softmax / log_softmax along one dimension.
#include "kernels/pointwise/softmax.h"
#include "ops/dims.h"
#include "ops/elementwise.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

Tensor relu(const Tensor& x) {
  return detail::unary_op("relu", kernels::UnaryOp::Relu, x);
}
Tensor sigmoid(const Tensor& x) {
  return detail::unary_op("sigmoid", kernels::UnaryOp::Sigmoid, x);
}
Tensor tanh(const Tensor& x) {
  return detail::unary_op("tanh", kernels::UnaryOp::Tanh, x);
}

namespace {

// x viewed as (outer, D, inner) around dimension `dim`.
struct SoftmaxGeometry {
  int64_t outer = 1, D = 1, inner = 1;
};

SoftmaxGeometry softmax_geometry(const char* name, const Tensor& x, int64_t dim) {
  PCNN_CHECK_TYPE(x.defined(), name, ": input is None");
  const int64_t k = detail::normalize_dim(name, dim, x.shape());
  SoftmaxGeometry g;
  for (int64_t i = 0; i < x.ndim(); ++i) {
    if (i < k) g.outer *= x.shape()[i];
    if (i > k) g.inner *= x.shape()[i];
  }
  g.D = x.shape()[k];
  return g;
}

// softmax and log_softmax: the same op around the vectorised kernels (the backward reads y only).
Tensor softmax_op(const char* op, const Tensor& x, int64_t dim, bool log) {
  const SoftmaxGeometry g = softmax_geometry(op, x, dim);
  Tensor y = Tensor::empty(x.shape());
  kernels::softmax_forward(log, g.outer, g.D, g.inner, x.data(), y.data());
  Tensor ys = y.detach();
  return record(op, y, {x}, [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(ys.shape());
    kernels::softmax_backward(log, g.outer, g.D, g.inner, ys.data(), dy.data(), dx.data());
    return {dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  return softmax_op("softmax", x, dim, false);
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_op("log_softmax", x, dim, true);
}

}  // namespace pocketcnn
