// Differentiable operations. Each one checks its arguments (ValueError naming the argument and
// the shapes), computes its forward with the kernels in cpp/src/kernels/, and records a tape node
// whose backward uses the same kernels. Tensors are NCHW float32; conv weights are (K, C, R, S),
// dense weights (out, in) -- the PyTorch/ONNX conventions.
#pragma once

#include <cstdint>
#include <vector>

#include "pocketcnn/activations.h"  // leaky_relu, elu, gelu, silu, hard_sigmoid, softplus
#include "pocketcnn/tensor.h"

namespace pocketcnn {

// ---- convolution, pooling, flatten, dense (cpp/src/ops/conv_pool.cpp, dense.cpp) -------------

// Padding may be asymmetric ('same' with an even kernel or a stride pads one more at the bottom
// and right, as TensorFlow/Keras do).
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1, groups = 1;  // conv2d_grouped only
};
// x (N, C, H, W), w (K, C, R, S), b (K) or undefined -> y (N, K, P, Q) with
// P = (H + pad_top + pad_bottom - R) / stride_h + 1, Q likewise.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt);
// Conv2D with groups and dilation: x (N, C, H, W), w (K, C / groups, R, S); output channel k sees
// the input channels of group k / (K / groups); kernel taps are dilation apart (the kernel spans
// (R - 1) * dilation_h + 1 rows). Plain loops (cpp/src/kernels/conv/conv_grouped.cpp).
Tensor conv2d_grouped(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt);

struct Pool2dOptions {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_h = 0, pad_w = 0;   // symmetric; at most half the kernel
  bool count_include_pad = true;  // avg_pool2d only (PyTorch's default)
  // One more padding row at the bottom / column at the right (0 or 1): Keras' padding='same'
  // with an odd total padding.
  int64_t extra_h = 0, extra_w = 0;
};
// x (N, C, H, W) -> (N, C, P, Q), P = (H + 2 pad_h - kernel_h) / stride_h + 1. Max pooling pads
// with -inf; average pooling divides by the window size (count_include_pad) or by the number of
// real input elements in the window.
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);

// x (N, d1, d2, ...) -> (N, d1*d2*...): dims from start_dim on are merged. Shares x's data.
Tensor flatten(const Tensor& x, int64_t start_dim = 1);

// x (N, in), w (out, in), b (out) or undefined -> y (N, out) = x w^T + b.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);

// ---- normalisation (cpp/src/ops/norm.cpp) -----------------------------------------------------

// PyTorch's F.batch_norm: x (N, C, ...) normalised per channel over N and the trailing dims.
// Training: the batch's mean and biased variance normalise, and the running statistics (if
// defined, shape (C)) are updated in place with the unbiased variance:
// running = (1 - momentum) * running + momentum * batch. Inference: the running statistics
// normalise. weight (gamma) and bias (beta) are (C) or undefined (1 and 0).
struct BatchNormOptions {
  bool training = false;
  double momentum = 0.1;
  double eps = 1e-5;
  bool relu = false;  // y = relu(batch_norm(x)) in one op (training's BatchNormalization + ReLU)
};
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, const BatchNormOptions& opt);

// ---- activations, softmax, losses (cpp/src/ops/activation.cpp, loss.cpp) ---------------------

Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// Along dimension `dim` (negative counts from the end), numerically stable (max subtracted).
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

// logits (N, C), labels N integers in [0, C) -> 0-d mean of -log softmax(logits)[i, labels[i]].
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels);
// pred and target of the same shape -> 0-d mean of (pred - target)^2. target gets no gradient
// unless it requires grad.
Tensor mse_loss(const Tensor& pred, const Tensor& target);

// ---- tensor arithmetic for custom losses (cpp/src/ops/arith.cpp, reduce.cpp) ------------------

// Elementwise with numpy broadcasting; the gradient is summed back to each input's shape.
Tensor add(const Tensor& a, const Tensor& b);
// relu(a + b) for a and b of one shape, in one pass (ops/add_relu.cpp): a residual Add + ReLU.
Tensor add_relu(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, float s);   // a + s
Tensor mul_scalar(const Tensor& a, float s);   // a * s
Tensor rsub_scalar(const Tensor& a, float s);  // s - a
Tensor rdiv_scalar(const Tensor& a, float s);  // s / a
Tensor pow_scalar(const Tensor& a, float p);   // a ** p
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);

// a (n, k) @ b (k, m) -> (n, m). 1-D operands are treated like numpy does (vector-matrix etc.).
Tensor matmul(const Tensor& a, const Tensor& b);

// Sum / mean over all elements (0-d result) ...
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
// ... or over the given dims (negative allowed, each at most once); keepdim keeps them as size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// x (N, C, H, W) -> (N, C, H + top + bottom, W + left + right) with zeros around (Keras'
// ZeroPadding2D); the gradient is the output gradient's middle.
Tensor zero_pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right);

// The tensors joined along dimension `dim` (negative counts from the end); all other dims agree.
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);

// Same data, new shape of equal numel; one entry may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace pocketcnn
