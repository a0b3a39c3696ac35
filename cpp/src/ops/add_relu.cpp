// relu(a + b) as one op: training's residual Add followed by its ReLU (the functional Model fuses
// them when the ReLU is the sum's only reader). One pass writes y (merge_sum, the inference plan's
// kernel) instead of add's pass and relu's pass; the backward is relu's, read from y (y > 0
// exactly where a + b > 0, NaN and -0 included), handed to both inputs as add's is.
#include "kernels/pointwise/elementwise.h"
#include "kernels/pointwise/merge_sum.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

Tensor add_relu(const Tensor& a, const Tensor& b) {
  PCNN_CHECK_TYPE(a.defined(), "add_relu: input is None");
  PCNN_CHECK_TYPE(b.defined(), "add_relu: other is None");
  PCNN_CHECK(a.shape() == b.shape(), "add_relu: input has shape ", shape_str(a.shape()),
             ", other has ", shape_str(b.shape()), "; the residual sum needs inputs of one shape");
  Tensor y = Tensor::empty(a.shape());
  const float* xs[2] = {a.data(), b.data()};
  kernels::merge_sum(2, xs, y.numel(), /*relu=*/true, y.data());
  Tensor ys = y.detach();
  return record("add_relu", y, {a, b},
                [ys](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(ys.shape());
                  kernels::unary_backward(kernels::UnaryOp::Relu, dx.numel(), ys.data(), nullptr,
                                          dy.data(), dx.data());
                  return {needs[0] ? dx : Tensor(), needs[1] ? dx : Tensor()};
                });
}

}  // namespace pocketcnn
