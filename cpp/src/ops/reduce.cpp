// sum / mean over all elements or over dims (keepdim like numpy), and reshape (shares data).
#include "kernels/pointwise/reduce.h"

#include "kernels/pointwise/elementwise_loops.h"
#include "ops/dims.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

// Sum (or mean) of x over the dims in `mask`. Computed as a sum down to `kept` (x's shape with
// the reduced dims set to 1), which has the same memory layout as the result with or without
// keepdim; the backward broadcasts the gradient back from `kept` to x's shape.
Tensor reduce_op(const char* name, const Tensor& x, const std::vector<bool>& mask, bool keepdim,
                 bool is_mean) {
  Shape kept, out;
  int64_t count = 1;  // elements summed into each result element
  for (size_t d = 0; d < mask.size(); ++d) {
    const int64_t size = x.shape()[d];
    if (mask[d]) count *= size;
    kept.push_back(mask[d] ? 1 : size);
    if (!mask[d] || keepdim) out.push_back(kept.back());
  }
  Tensor y = Tensor::empty(out);
  kernels::sum_to_shape(x.shape(), x.data(), kept, y.data());
  // The mean of no elements is 0 * inf = nan, as numpy's.
  const float scale = is_mean ? static_cast<float>(1.0 / static_cast<double>(count)) : 1.0f;
  if (is_mean)
    kernels::scalar_forward(kernels::ScalarOp::Mul, y.numel(), y.data(), scale, y.data());
  const Shape x_shape = x.shape();
  return record(name, y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(x_shape);
                  kernels::sum_to_shape_backward(x_shape, kept, dy.data(), scale, dx.data());
                  return {dx};
                });
}

}  // namespace

Tensor sum(const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), "sum: input is None");
  return reduce_op("sum", x, std::vector<bool>(x.shape().size(), true), false, false);
}

Tensor mean(const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), "mean: input is None");
  return reduce_op("mean", x, std::vector<bool>(x.shape().size(), true), false, true);
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  PCNN_CHECK_TYPE(x.defined(), "sum: input is None");
  return reduce_op("sum", x, detail::dims_mask("sum", dims, x.shape()), keepdim, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  PCNN_CHECK_TYPE(x.defined(), "mean: input is None");
  return reduce_op("mean", x, detail::dims_mask("mean", dims, x.shape()), keepdim, true);
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  PCNN_CHECK_TYPE(x.defined(), "reshape: input is None");
  int64_t inferred = -1;  // index of the -1 entry, if any
  Shape target = shape;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      PCNN_CHECK(inferred < 0, "reshape: only one dimension can be -1, got shape ",
                 shape_str(shape));
      inferred = static_cast<int64_t>(i);
      target[i] = 1;
    } else {
      PCNN_CHECK(shape[i] >= 0, "reshape: invalid size ", shape[i], " in shape ", shape_str(shape),
                 " (sizes must be >= 0, or -1 for one inferred dim)");
    }
  }
  const int64_t known = shape_numel(target);  // product of the given sizes (checks overflow)
  const int64_t n = x.numel();
  if (inferred >= 0) {
    PCNN_CHECK(known != 0, "reshape: cannot infer the -1 in shape ", shape_str(shape),
               " for a tensor of shape ", shape_str(x.shape()), ": the other sizes multiply to 0");
    PCNN_CHECK(n % known == 0, "reshape: cannot reshape a tensor of shape ", shape_str(x.shape()),
               " (", n, " elements) into shape ", shape_str(shape), ": ", n,
               " is not a multiple of ", known);
    target[static_cast<size_t>(inferred)] = n / known;
  } else {
    PCNN_CHECK(known == n, "reshape: cannot reshape a tensor of shape ", shape_str(x.shape()), " (",
               n, " elements) into shape ", shape_str(shape), " (", known, " elements)");
  }
  Tensor y = x.view(target);  // same data
  const Shape x_shape = x.shape();
  return record("reshape", y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  return {dy.view(x_shape)};
                });
}

}  // namespace pocketcnn
