// Tensor arithmetic for custom losses: + - * / with numpy broadcasting, ops with a Python
// scalar, neg/exp/log, and matmul. Broadcasting gradients are summed back to each input's shape.
#include "kernels/gemm/matmul.h"
#include "kernels/pointwise/broadcast.h"
#include "kernels/pointwise/elementwise.h"
#include "kernels/pointwise/elementwise_loops.h"
#include "kernels/pointwise/reduce.h"
#include "ops/elementwise.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

using kernels::BinaryOp;
using kernels::ScalarOp;
using kernels::UnaryOp;

namespace detail {

Tensor unary_op(const char* name, UnaryOp op, const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), name, ": input is None");
  Tensor y = Tensor::empty(x.shape());
  kernels::unary_forward(op, x.numel(), x.data(), y.data());
  // Keep only what the derivative reads (the tape holds no op's inputs): x for relu and log, y for
  // sigmoid, tanh and exp (cheapest from y), neither for neg.
  const bool uses_x = op == UnaryOp::Relu || op == UnaryOp::Log;
  const bool uses_y = op == UnaryOp::Sigmoid || op == UnaryOp::Tanh || op == UnaryOp::Exp;
  Tensor xs = uses_x ? x.detach() : Tensor(), ys = uses_y ? y.detach() : Tensor();
  const Shape shape = x.shape();
  return record(name, y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(shape);
                  kernels::unary_backward(op, dx.numel(), xs.defined() ? xs.data() : nullptr,
                                          ys.defined() ? ys.data() : nullptr, dy.data(), dx.data());
                  return {dx};
                });
}

}  // namespace detail

namespace {

// full (out shape) summed down to `shape` (a's or b's shape in a broadcast op).
Tensor sum_to(const Tensor& full, const Shape& shape) {
  if (full.shape() == shape) return full;
  Tensor t = Tensor::empty(shape);
  kernels::sum_to_shape(full.shape(), full.data(), shape, t.data());
  return t;
}

// a + b of one shape (a residual Add): one contiguous pass, and a backward that hands dy itself
// to both inputs (as reshape's does; the tape copies before it sums into a gradient) instead of
// the broadcasting loops' two per-element copies.
Tensor add_same_shape(const Tensor& a, const Tensor& b) {
  Tensor y = Tensor::empty(a.shape());
  const float *pa = a.data(), *pb = b.data();
  float* py = y.data();
  const int64_t n = a.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = pa[i] + pb[i];
  return record("add", y, {a, b},
                [](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  return {needs[0] ? dy : Tensor(), needs[1] ? dy : Tensor()};
                });
}

Tensor binary_op(const char* name, BinaryOp op, const Tensor& a, const Tensor& b) {
  PCNN_CHECK_TYPE(a.defined(), name, ": input is None");
  PCNN_CHECK_TYPE(b.defined(), name, ": other is None");
  if (op == BinaryOp::Add && a.shape() == b.shape()) return add_same_shape(a, b);
  Shape out;
  PCNN_CHECK(kernels::broadcast_shape(a.shape(), b.shape(), &out), name, ": shapes ",
             shape_str(a.shape()), " (input) and ", shape_str(b.shape()),
             " (other) cannot be broadcast together (numpy rules: trailing dims must be equal or "
             "1)");
  const std::vector<int64_t> sa = kernels::broadcast_strides(a.shape(), out);
  const std::vector<int64_t> sb = kernels::broadcast_strides(b.shape(), out);
  Tensor y = Tensor::empty(out);
  kernels::binary_forward(op, out, sa, a.data(), sb, b.data(), y.data());
  Tensor as = a.detach(), bs = b.detach();
  return record(name, y, {a, b},
                [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  Tensor da_full = needs[0] ? Tensor::empty(out) : Tensor();
                  Tensor db_full = needs[1] ? Tensor::empty(out) : Tensor();
                  kernels::binary_backward(op, out, sa, as.data(), sb, bs.data(), dy.data(),
                                           needs[0] ? da_full.data() : nullptr,
                                           needs[1] ? db_full.data() : nullptr);
                  return {needs[0] ? sum_to(da_full, as.shape()) : Tensor(),
                          needs[1] ? sum_to(db_full, bs.shape()) : Tensor()};
                });
}

Tensor scalar_op(const char* name, ScalarOp op, const Tensor& x, float s) {
  PCNN_CHECK_TYPE(x.defined(), name, ": input is None");
  Tensor y = Tensor::empty(x.shape());
  kernels::scalar_forward(op, x.numel(), x.data(), s, y.data());
  Tensor xs = x.detach();
  return record(name, y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(xs.shape());
                  kernels::scalar_backward(op, xs.numel(), xs.data(), s, dy.data(), dx.data());
                  return {dx};
                });
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary_op("add", BinaryOp::Add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary_op("sub", BinaryOp::Sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary_op("mul", BinaryOp::Mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary_op("div", BinaryOp::Div, a, b);
}

Tensor add_scalar(const Tensor& a, float s) {
  return scalar_op("add_scalar", ScalarOp::Add, a, s);
}
Tensor mul_scalar(const Tensor& a, float s) {
  return scalar_op("mul_scalar", ScalarOp::Mul, a, s);
}
Tensor rsub_scalar(const Tensor& a, float s) {
  return scalar_op("rsub_scalar", ScalarOp::RSub, a, s);
}
Tensor rdiv_scalar(const Tensor& a, float s) {
  return scalar_op("rdiv_scalar", ScalarOp::RDiv, a, s);
}
Tensor pow_scalar(const Tensor& a, float p) {
  return scalar_op("pow_scalar", ScalarOp::Pow, a, p);
}

Tensor neg(const Tensor& a) {
  return detail::unary_op("neg", UnaryOp::Neg, a);
}
Tensor exp(const Tensor& a) {
  return detail::unary_op("exp", UnaryOp::Exp, a);
}
Tensor log(const Tensor& a) {
  return detail::unary_op("log", UnaryOp::Log, a);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  PCNN_CHECK_TYPE(a.defined(), "matmul: input is None");
  PCNN_CHECK_TYPE(b.defined(), "matmul: other is None");
  auto check_rank = [](const Tensor& t, const char* arg) {
    PCNN_CHECK(t.ndim() == 1 || t.ndim() == 2, "matmul: ", arg, " must be 1-D or 2-D, got shape ",
               shape_str(t.shape()),
               t.ndim() == 0 ? " (use mul for a scalar)" : " (batched matmul is not supported)");
  };
  check_rank(a, "input");
  check_rank(b, "other");
  // numpy's rule for vectors: a 1-D left operand is a row (1, k), a 1-D right operand a column
  // (k, 1), and the added dim is dropped from the result.
  const bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  const int64_t n = a_vec ? 1 : a.dim(0), k = a.dim(-1), m = b_vec ? 1 : b.dim(1);
  PCNN_CHECK(b.dim(0) == k, "matmul: input of shape ", shape_str(a.shape()), " and other of shape ",
             shape_str(b.shape()), " do not fit: input has ", k, " columns but other has ",
             b.dim(0), " rows");
  Shape out;
  if (!a_vec) out.push_back(n);
  if (!b_vec) out.push_back(m);
  Tensor y = Tensor::empty(out);
  kernels::matmul(n, k, m, a.data(), b.data(), y.data());
  Tensor as = a.detach(), bs = b.detach();
  return record("matmul", y, {a, b},
                [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  std::vector<Tensor> grads(2);
                  if (needs[0]) {  // (n, k) in memory, whatever a's shape
                    grads[0] = Tensor::empty(as.shape());
                    kernels::matmul_grad_a(n, k, m, dy.data(), bs.data(), grads[0].data());
                  }
                  if (needs[1]) {  // (k, m) in memory
                    grads[1] = Tensor::empty(bs.shape());
                    kernels::matmul_grad_b(n, k, m, as.data(), dy.data(), grads[1].data());
                  }
                  return grads;
                });
}

}  // namespace pocketcnn
