// conv2d, max_pool2d, avg_pool2d, flatten: argument checks, output allocation and tape nodes. The
// arithmetic lives in kernels/: conv/conv2d.h (ISA-dispatched, threaded; tested against
// conv/conv2d_ref.cpp; the geometry from conv/conv_geometry.h) and pool/ (max pooling
// ISA-dispatched, tested against pool/pool2d_ref.cpp; average pooling pool/avg_pool2d.h,
// tested against the loops of pool/avg_pool2d_ref.cpp).
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/pool/avg_pool2d.h"
#include "kernels/pool/pool2d.h"
#include "ops/conv_fused.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"
#include "pocketcnn/limits.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

// Pooling padding is at most half the window (checked first); this bound only keeps
// H + 2 * pad far from int64 overflow whatever the caller passes. Convolutions use
// kernels::kMaxConvPadding (make_conv2d_geometry).
constexpr int64_t kMaxPoolPadding = std::numeric_limits<int32_t>::max();

std::string pair_str(int64_t a, int64_t b) {
  return str_cat("(", a, ", ", b, ")");
}

// Checks shared by conv2d and pooling: a defined, 4-D, non-empty NCHW input.
void check_image_input(const char* op, const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), op, ": input is None");
  PCNN_CHECK(x.ndim() == 4, op, ": input must be 4-D (N, C, H, W), got shape ",
             shape_str(x.shape()));
  PCNN_CHECK(x.dim(0) > 0, op, ": empty batch: input has shape ", shape_str(x.shape()), " (N = 0)");
  PCNN_CHECK(x.dim(1) > 0 && x.dim(2) > 0 && x.dim(3) > 0, op,
             ": input must have C, H, W >= 1, got shape ", shape_str(x.shape()));
}

// Shared by both pooling ops: checks the options against x and returns the geometry.
kernels::Pool2dGeometry pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& opt) {
  check_image_input(op, x);
  // Formatted only for a failing check (as make_conv2d_geometry's; this runs on every pooling).
  const auto where = [&] { return str_cat(" (input shape ", shape_str(x.shape()), ")"); };
  PCNN_CHECK(opt.kernel_h >= 1 && opt.kernel_w >= 1, op, ": kernel_size must be >= 1, got ",
             pair_str(opt.kernel_h, opt.kernel_w), where());
  PCNN_CHECK(opt.stride_h >= 1 && opt.stride_w >= 1, op, ": stride must be >= 1, got ",
             pair_str(opt.stride_h, opt.stride_w), where());
  PCNN_CHECK(opt.pad_h >= 0 && opt.pad_w >= 0, op, ": padding must be >= 0, got ",
             pair_str(opt.pad_h, opt.pad_w), where());
  // Also guarantees that every window holds at least one real input element .
  PCNN_CHECK(opt.pad_h <= opt.kernel_h / 2 && opt.pad_w <= opt.kernel_w / 2, op,
             ": padding must be at most half the kernel size, got padding ",
             pair_str(opt.pad_h, opt.pad_w), " for kernel_size ",
             pair_str(opt.kernel_h, opt.kernel_w), where());
  PCNN_CHECK(opt.extra_h >= 0 && opt.extra_h <= 1 && opt.extra_w >= 0 && opt.extra_w <= 1, op,
             ": the extra bottom/right padding must be 0 or 1, got ",
             pair_str(opt.extra_h, opt.extra_w), where());
  kernels::Pool2dGeometry g{};
  g.N = x.dim(0);
  g.C = x.dim(1);
  g.H = x.dim(2);
  g.W = x.dim(3);
  g.kernel_h = opt.kernel_h;
  g.kernel_w = opt.kernel_w;
  g.stride_h = opt.stride_h;
  g.stride_w = opt.stride_w;
  g.pad_h = opt.pad_h;
  g.pad_w = opt.pad_w;
  PCNN_CHECK(g.pad_h <= kMaxPoolPadding && g.pad_w <= kMaxPoolPadding, op,
             ": padding must be at most ", kMaxPoolPadding, where());
  PCNN_CHECK(g.kernel_h <= limits::kMaxTensorElements && g.kernel_w <= limits::kMaxTensorElements,
             op, ": kernel_size ", pair_str(g.kernel_h, g.kernel_w),
             " exceeds the largest tensor (", limits::kMaxTensorElements,
             " elements, pocketcnn::limits::kMaxTensorElements)", where());
  // The extra row / column is only counted: the kernels clip every window to the input.
  const int64_t Hp = g.H + 2 * g.pad_h + opt.extra_h, Wp = g.W + 2 * g.pad_w + opt.extra_w;
  PCNN_CHECK(Hp >= g.kernel_h && Wp >= g.kernel_w, op, ": kernel_size ",
             pair_str(g.kernel_h, g.kernel_w), " is larger than the padded input ",
             pair_str(Hp, Wp), where());
  g.P = (Hp - g.kernel_h) / g.stride_h + 1;
  g.Q = (Wp - g.kernel_w) / g.stride_w + 1;
  return g;
}

// The kernels' workspaces are sums of products of these terms (im2col: C*R*S x P*Q per image; the
// padded input C*Hp*Wp; the output K*P*Q): bounding each by the largest tensor, with checked
// arithmetic, keeps every size the kernels compute far from overflow and refuses, as a
// ValueError naming the limit, a convolution whose scratch memory alone would exhaust the machine.
void check_conv_workspace(const kernels::Conv2dGeometry& g, int64_t Hp, int64_t Wp) {
  using limits::checked_mul;
  const char* what = "conv2d: workspace";
  const int64_t crs = checked_mul(checked_mul(g.C, g.R, what), g.S, what);
  const int64_t pq = checked_mul(g.P, g.Q, what);
  checked_mul(crs, pq, what);
  checked_mul(checked_mul(g.C, Hp, what), Wp, what);
  checked_mul(checked_mul(g.N, g.K, what), pq, what);
}

}  // namespace

// ---- conv2d ------------------------------------------------------------------------------------

namespace {

// conv2d's argument checks; the geometry of a valid call.
kernels::Conv2dGeometry conv_geometry(const Tensor& x, const Tensor& w, const Tensor& b,
                                      const Conv2dOptions& opt) {
  check_image_input("conv2d", x);
  PCNN_CHECK_TYPE(w.defined(), "conv2d: weight is None");
  const kernels::Conv2dGeometry g = kernels::make_conv2d_geometry(
      x.shape(), w.shape(),
      {opt.stride_h, opt.stride_w, opt.pad_top, opt.pad_left, opt.pad_bottom, opt.pad_right});
  const auto where = [&] {  // formatted only for a failing check
    return str_cat(" (input shape ", shape_str(x.shape()), ", weight shape ", shape_str(w.shape()),
                   ")");
  };
  check_conv_workspace(g, g.H + opt.pad_top + opt.pad_bottom, g.W + opt.pad_left + opt.pad_right);
  if (b.defined()) {
    PCNN_CHECK(b.ndim() == 1 && b.dim(0) == g.K, "conv2d: bias must have shape (", g.K,
               ",) to match the weight's ", g.K, " filters, got ", shape_str(b.shape()), where());
  }
  return g;
}

}  // namespace

Tensor detail::conv2d_activated(const Tensor& x, const Tensor& w, const Tensor& b,
                                const Conv2dOptions& opt, kernels::Activation act) {
  const kernels::Conv2dGeometry g = conv_geometry(x, w, b, opt);
  Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q});
  kernels::conv2d_forward(g, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(), act);
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt) {
  const kernels::Conv2dGeometry g = conv_geometry(x, w, b, opt);
  const bool has_bias = b.defined();

  Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q});
  // When the weight gradient will be wanted, the forward keeps Winograd's transform of x for it
  // (the backward then skips that transform), valid under the ISA that made it (x stays for a
  // backward under another one: set_isa_cap between the two).
  const int64_t nsaved =
      grad_enabled() && w.requires_grad() ? kernels::conv2d_saved_floats(g) : int64_t{0};
  Tensor saved = nsaved > 0 ? Tensor::empty({nsaved}) : Tensor();
  const Isa isa = active_isa();
  kernels::conv2d_forward(g, x.data(), w.data(), has_bias ? b.data() : nullptr, y.data(),
                          kernels::Activation::none, saved.defined() ? saved.data() : nullptr);
  Tensor xs = x.detach(), ws = w.detach();
  return record("conv2d", y, {x, w, b},
                [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  std::vector<Tensor> grads(3);
                  const bool weights = needs[1] || needs[2];
                  if (needs[0]) grads[0] = Tensor::empty(xs.shape());
                  if (weights) {
                    grads[1] = Tensor::empty(ws.shape());
                    if (has_bias) grads[2] = Tensor::empty({g.K});
                  }
                  const bool use_saved = saved.defined() && active_isa() == isa;
                  kernels::conv2d_backward(g, xs.data(), ws.data(), dy.data(),
                                           needs[0] ? grads[0].data() : nullptr,
                                           weights ? grads[1].data() : nullptr,
                                           weights && has_bias ? grads[2].data() : nullptr,
                                           use_saved ? saved.data() : nullptr);
                  return grads;
                });
}

// ---- pooling -----------------------------------------------------------------------------------

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dGeometry g = pool_geometry("max_pool2d", x, opt);
  // The argmax is a flat index into one (H, W) plane, saved as int32.
  PCNN_CHECK(g.H * g.W <= std::numeric_limits<int32_t>::max(),
             "max_pool2d: an input plane of H * W = ", g.H * g.W,
             " elements is too large (at most 2^31 - 1), input shape ", shape_str(x.shape()));
  Tensor y = Tensor::empty({g.N, g.C, g.P, g.Q});
  if (!any_requires_grad({x})) {
    kernels::max_pool2d_forward(g, x.data(), y.data(), nullptr);
    return y;
  }
  if (kernels::max_pool2d_keeps_winners(g)) {
    // 2x2 / stride 2: each window's winner (a quarter of x's size) is all the backward reads, so
    // x is freed as soon as nothing else holds it.
    Tensor winners = Tensor::empty(y.shape());
    kernels::max_pool2d_forward_winners(g, x.data(), y.data(), winners.data());
    return record("max_pool2d", y, {x},
                  [g, winners](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                    Tensor dx = Tensor::empty({g.N, g.C, g.H, g.W});
                    kernels::max_pool2d_backward_from_winners(g, dy.data(), winners.data(),
                                                              dx.data());
                    return {dx};
                  });
  }
  auto argmax = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(y.numel()));
  kernels::max_pool2d_forward(g, x.data(), y.data(), argmax->data());
  return record("max_pool2d", y, {x},
                [g, argmax](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty({g.N, g.C, g.H, g.W});
                  kernels::max_pool2d_backward(g, dy.data(), argmax->data(), dx.data());
                  return {dx};
                });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt) {
  const kernels::Pool2dGeometry g = pool_geometry("avg_pool2d", x, opt);
  const bool include_pad = opt.count_include_pad;
  Tensor y = Tensor::empty({g.N, g.C, g.P, g.Q});
  kernels::avg_pool2d_forward(g, include_pad, x.data(), y.data());
  return record(
      "avg_pool2d", y, {x},
      [g, include_pad](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
        Tensor dx = Tensor::empty({g.N, g.C, g.H, g.W});
        kernels::avg_pool2d_backward(g, include_pad, dy.data(), dx.data());
        return {dx};
      });
}

// ---- flatten -----------------------------------------------------------------------------------

Tensor flatten(const Tensor& x, int64_t start_dim) {
  PCNN_CHECK_TYPE(x.defined(), "flatten: input is None");
  const int64_t nd = x.ndim();
  PCNN_CHECK(nd >= 1, "flatten: input must have at least 1 dimension, got shape ",
             shape_str(x.shape()));
  PCNN_CHECK(start_dim >= -nd && start_dim < nd, "flatten: start_dim ", start_dim,
             " is out of range for input of shape ", shape_str(x.shape()), " (valid: ", -nd, " to ",
             nd - 1, ")");
  const int64_t start = start_dim < 0 ? start_dim + nd : start_dim;
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  // shape_numel checks for overflow: with a zero-size dim before start_dim the merged dims may not
  // fit int64 even though the tensor has no elements.
  shape.push_back(shape_numel(Shape(x.shape().begin() + start, x.shape().end())));
  const Shape input_shape = x.shape();
  return record("flatten", x.view(shape), {x},
                [input_shape](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  return {dy.view(input_shape)};
                });
}

}  // namespace pocketcnn
