// conv2d_grouped: Conv2D with groups and/or dilation (DepthwiseConv2D is groups = C). Argument
// checks naming the shapes, the output, the tape node; the loops are kernels/conv/conv_grouped
// (the reference), or kernels/depthwise for the 3x3 depthwise convolutions it covers.
#include "kernels/conv/conv_grouped.h"

#include <limits>
#include <string>
#include <vector>

#include "kernels/depthwise/depthwise3x3.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

constexpr int64_t kMaxArg = std::numeric_limits<int32_t>::max();

kernels::GroupedConvGeometry grouped_geometry(const Tensor& x, const Tensor& w,
                                              const Conv2dOptions& o) {
  PCNN_CHECK_TYPE(x.defined() && w.defined(), "conv2d: input or weight is None");
  // Formatted only for a failing check: depthwise layers pass here on every step.
  const auto where = [&] {
    return str_cat(" (input shape ", shape_str(x.shape()), ", weight shape ", shape_str(w.shape()),
                   ", groups ", o.groups, ")");
  };
  PCNN_CHECK(x.ndim() == 4 && w.ndim() == 4,
             "conv2d: input (N, C, H, W) and weight (K, C / groups, ", "R, S) must be 4-D",
             where());
  PCNN_CHECK(x.dim(0) > 0 && x.dim(1) > 0 && x.dim(2) > 0 && x.dim(3) > 0 && w.dim(0) > 0 &&
                 w.dim(1) > 0 && w.dim(2) > 0 && w.dim(3) > 0,
             "conv2d: empty input or weight", where());
  PCNN_CHECK(o.groups >= 1 && o.groups <= kMaxArg, "conv2d: groups must be >= 1", where());
  PCNN_CHECK(x.dim(1) % o.groups == 0, "conv2d: groups ", o.groups, " must divide the ", x.dim(1),
             " input channels", where());
  PCNN_CHECK(w.dim(0) % o.groups == 0, "conv2d: groups ", o.groups, " must divide the ", w.dim(0),
             " filters", where());
  PCNN_CHECK(w.dim(1) * o.groups == x.dim(1), "conv2d: the weight takes ", w.dim(1),
             " channels per group, the input has ", x.dim(1) / o.groups, where());
  PCNN_CHECK(
      o.dilation_h >= 1 && o.dilation_w >= 1 && o.dilation_h <= kMaxArg && o.dilation_w <= kMaxArg,
      "conv2d: dilation must be >= 1, got (", o.dilation_h, ", ", o.dilation_w, ")", where());
  PCNN_CHECK(o.stride_h >= 1 && o.stride_w >= 1, "conv2d: stride must be >= 1", where());
  PCNN_CHECK(o.pad_top >= 0 && o.pad_left >= 0 && o.pad_bottom >= 0 && o.pad_right >= 0 &&
                 o.pad_top <= kMaxArg && o.pad_left <= kMaxArg && o.pad_bottom <= kMaxArg &&
                 o.pad_right <= kMaxArg,
             "conv2d: padding must be between 0 and ", kMaxArg, where());
  kernels::GroupedConvGeometry g{};
  g.N = x.dim(0), g.C = x.dim(1), g.H = x.dim(2), g.W = x.dim(3);
  g.K = w.dim(0), g.R = w.dim(2), g.S = w.dim(3);
  g.stride_h = o.stride_h, g.stride_w = o.stride_w;
  g.pad_top = o.pad_top, g.pad_left = o.pad_left;
  g.dilation_h = o.dilation_h, g.dilation_w = o.dilation_w, g.groups = o.groups;
  const int64_t eh = (g.R - 1) * g.dilation_h + 1, ew = (g.S - 1) * g.dilation_w + 1;
  const int64_t Hp = g.H + o.pad_top + o.pad_bottom, Wp = g.W + o.pad_left + o.pad_right;
  PCNN_CHECK(Hp >= eh && Wp >= ew, "conv2d: the dilated kernel (", eh, ", ", ew,
             ") is larger than the padded input (", Hp, ", ", Wp, ")", where());
  g.P = (Hp - eh) / g.stride_h + 1;
  g.Q = (Wp - ew) / g.stride_w + 1;
  return g;
}

}  // namespace

Tensor conv2d_grouped(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& opt) {
  const kernels::GroupedConvGeometry g = grouped_geometry(x, w, opt);
  if (b.defined()) {
    PCNN_CHECK(b.ndim() == 1 && b.dim(0) == g.K, "conv2d: bias must have shape (", g.K, ",), got ",
               shape_str(b.shape()));
  }
  Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q});
  const bool depthwise = kernels::depthwise3x3_applies(g);
  const float* bias = b.defined() ? b.data() : nullptr;
  if (depthwise) {
    kernels::depthwise3x3_forward(g, x.data(), w.data(), bias, y.data());
  } else {
    kernels::grouped_conv2d_forward(g, x.data(), w.data(), bias, y.data());
  }
  const Tensor xs = x.detach(), ws = w.detach();
  return record("conv2d_grouped", y, {x, w, b},
                [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  std::vector<Tensor> grads(3);
                  if (needs[0]) grads[0] = Tensor::empty(xs.shape());
                  if (needs[1]) grads[1] = Tensor::empty(ws.shape());
                  if (needs[2]) grads[2] = Tensor::empty({g.K});
                  auto ptr = [](const Tensor& t) { return t.defined() ? t.data() : nullptr; };
                  auto backward =
                      depthwise ? kernels::depthwise3x3_backward : kernels::grouped_conv2d_backward;
                  backward(g, xs.data(), ws.data(), dy.data(), ptr(grads[0]), ptr(grads[1]),
                           ptr(grads[2]));
                  return grads;
                });
}

}  // namespace pocketcnn
