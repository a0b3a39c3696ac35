// conv2d, pooling, flatten, linear. Argument normalisation (ints vs pairs, 'same'/'valid') is
// done by python/pocketcnn/ops; these take explicit values and check them again in C++.
#include "bind.h"
#include "pocketcnn/ops.h"

namespace pocketcnn::bindings {

using namespace pybind11::literals;

void bind_nn_ops(py::module_& m) {
  m.def(
      "conv2d",
      [](py::handle x, py::handle w, py::handle b, int64_t stride_h, int64_t stride_w,
         int64_t pad_top, int64_t pad_left, int64_t pad_bottom, int64_t pad_right) {
        Tensor xt = to_tensor(x, "conv2d: input"), wt = to_tensor(w, "conv2d: weight");
        Tensor bt = to_optional_tensor(b, "conv2d: bias");
        Conv2dOptions opt;
        opt.stride_h = stride_h;
        opt.stride_w = stride_w;
        opt.pad_top = pad_top;
        opt.pad_left = pad_left;
        opt.pad_bottom = pad_bottom;
        opt.pad_right = pad_right;
        OpScope op;
        return conv2d(xt, wt, bt, opt);
      },
      "input"_a, "weight"_a, "bias"_a, "stride_h"_a, "stride_w"_a, "pad_top"_a, "pad_left"_a,
      "pad_bottom"_a, "pad_right"_a,
      "y (N, K, P, Q) = input (N, C, H, W) cross-correlated with weight (K, C, R, S) + bias (K); "
      "explicit strides and (possibly asymmetric) zero padding.");
  m.def(
      "max_pool2d",
      [](py::handle x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
         int64_t pad_h, int64_t pad_w, int64_t extra_h, int64_t extra_w) {
        Tensor xt = to_tensor(x, "max_pool2d: input");
        Pool2dOptions opt{kernel_h, kernel_w, stride_h, stride_w, pad_h,
                          pad_w,    true,     extra_h,  extra_w};
        OpScope op;
        return max_pool2d(xt, opt);
      },
      "input"_a, "kernel_h"_a, "kernel_w"_a, "stride_h"_a, "stride_w"_a, "pad_h"_a, "pad_w"_a,
      "extra_h"_a = 0, "extra_w"_a = 0,
      "Max over each window of input (N, C, H, W) -> (N, C, P, Q); padding counts as -inf.");
  m.def(
      "avg_pool2d",
      [](py::handle x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w,
         int64_t pad_h, int64_t pad_w, bool count_include_pad, int64_t extra_h, int64_t extra_w) {
        Tensor xt = to_tensor(x, "avg_pool2d: input");
        Pool2dOptions opt{kernel_h, kernel_w,          stride_h, stride_w, pad_h,
                          pad_w,    count_include_pad, extra_h,  extra_w};
        OpScope op;
        return avg_pool2d(xt, opt);
      },
      "input"_a, "kernel_h"_a, "kernel_w"_a, "stride_h"_a, "stride_w"_a, "pad_h"_a, "pad_w"_a,
      "count_include_pad"_a, "extra_h"_a = 0, "extra_w"_a = 0,
      "Mean over each window of input (N, C, H, W) -> (N, C, P, Q); padded zeros count in the "
      "divisor when count_include_pad.");
  m.def(
      "zero_pad2d",
      [](py::handle x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
        Tensor xt = to_tensor(x, "zero_pad2d: input");
        OpScope op;
        return zero_pad2d(xt, top, bottom, left, right);
      },
      "input"_a, "top"_a, "bottom"_a, "left"_a, "right"_a,
      "input (N, C, H, W) with zero rows / columns added: (N, C, H + top + bottom, W + left + "
      "right).");
  m.def(
      "conv2d_grouped",
      [](py::handle x, py::handle w, py::handle b, int64_t stride_h, int64_t stride_w,
         int64_t pad_top, int64_t pad_left, int64_t pad_bottom, int64_t pad_right,
         int64_t dilation_h, int64_t dilation_w, int64_t groups) {
        Tensor xt = to_tensor(x, "conv2d: input"), wt = to_tensor(w, "conv2d: weight");
        Tensor bt = to_optional_tensor(b, "conv2d: bias");
        Conv2dOptions opt;
        opt.stride_h = stride_h, opt.stride_w = stride_w;
        opt.pad_top = pad_top, opt.pad_left = pad_left;
        opt.pad_bottom = pad_bottom, opt.pad_right = pad_right;
        opt.dilation_h = dilation_h, opt.dilation_w = dilation_w, opt.groups = groups;
        OpScope op;
        return conv2d_grouped(xt, wt, bt, opt);
      },
      "input"_a, "weight"_a, "bias"_a, "stride_h"_a, "stride_w"_a, "pad_top"_a, "pad_left"_a,
      "pad_bottom"_a, "pad_right"_a, "dilation_h"_a, "dilation_w"_a, "groups"_a,
      "conv2d with groups (weight (K, C / groups, R, S)) and dilation.");
  m.def(
      "concat",
      [](const std::vector<py::handle>& xs, int64_t dim) {
        std::vector<Tensor> ts;
        for (py::handle x : xs) ts.push_back(to_tensor(x, "concat: input"));
        OpScope op;
        return concat(ts, dim);
      },
      "inputs"_a, "dim"_a, "The inputs joined along dim (all other dims equal).");
  m.def(
      "flatten",
      [](py::handle x, int64_t start_dim) {
        Tensor xt = to_tensor(x, "flatten: input");
        OpScope op;
        return flatten(xt, start_dim);
      },
      "input"_a, "start_dim"_a,
      "Merges the dims from start_dim on into one; shares the input's data.");
  m.def(
      "linear",
      [](py::handle x, py::handle w, py::handle b) {
        Tensor xt = to_tensor(x, "linear: input"), wt = to_tensor(w, "linear: weight");
        Tensor bt = to_optional_tensor(b, "linear: bias");
        OpScope op;
        return linear(xt, wt, bt);
      },
      "input"_a, "weight"_a, "bias"_a = py::none(),
      "y (N, out) = input (N, in) @ weight (out, in)^T + bias (out).");
  m.def(
      "batch_norm",
      [](py::handle x, py::handle running_mean, py::handle running_var, py::handle weight,
         py::handle bias, bool training, double momentum, double eps, bool relu) {
        Tensor xt = to_tensor(x, "batch_norm: input");
        Tensor rm = to_optional_tensor(running_mean, "batch_norm: running_mean");
        Tensor rv = to_optional_tensor(running_var, "batch_norm: running_var");
        Tensor wt = to_optional_tensor(weight, "batch_norm: weight");
        Tensor bt = to_optional_tensor(bias, "batch_norm: bias");
        BatchNormOptions opt{training, momentum, eps, relu};
        OpScope op;
        return batch_norm(xt, rm, rv, wt, bt, opt);
      },
      "input"_a, "running_mean"_a, "running_var"_a, "weight"_a, "bias"_a, "training"_a,
      "momentum"_a, "eps"_a, "relu"_a = false,
      "PyTorch's F.batch_norm over axis 1 of input (N, C, ...); in training the running "
      "statistics (C) are updated in place (unbiased variance). relu: relu() of that, in one op.");
}

}  // namespace pocketcnn::bindings
