#include "pocketcnn/inference.h"

#include <optional>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_geometry.h"
#include "ops/conv_fused.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"

namespace pocketcnn {

namespace {

std::string checked_activation(const std::string& name) {
  const std::string a = name == "linear" ? "" : name;
  PCNN_CHECK(a.empty() || a == "relu" || a == "sigmoid" || a == "tanh" || a == "softmax",
             "InferencePlan: unknown activation '", name,
             "' (use '', 'linear', 'relu', 'sigmoid', 'tanh' or 'softmax')");
  return a;
}

Tensor apply_activation(const std::string& a, const Tensor& x) {
  if (a.empty()) return x;
  if (a == "relu") return relu(x);
  if (a == "sigmoid") return sigmoid(x);
  if (a == "tanh") return tanh(x);
  return softmax(x, 1);
}

// The conv-fusable activations: everything but softmax (which needs the whole channel axis).
bool fused_activation(const std::string& a, kernels::Activation* act) {
  if (a.empty())
    *act = kernels::Activation::none;
  else if (a == "relu")
    *act = kernels::Activation::relu;
  else if (a == "sigmoid")
    *act = kernels::Activation::sigmoid;
  else if (a == "tanh")
    *act = kernels::Activation::tanh;
  else
    return false;
  return true;
}

bool is_2x2_pool(const Pool2dOptions& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0;
}

// The geometry when conv (stride 1) + bias + activation + 2x2 max pool can run as one kernel:
// everything the fused kernel relies on holds (make_conv2d_geometry accepts the arguments, an
// output of at least 2x2). Anything else takes the unfused ops, which raise their usual errors for
// bad arguments.
std::optional<kernels::Conv2dGeometry> fusable_geometry(const Tensor& x, const Tensor& w,
                                                        const Tensor& b, const Conv2dOptions& o) {
  if (!x.defined() || !w.defined() || x.ndim() != 4 || w.ndim() != 4) return std::nullopt;
  if (o.stride_h != 1 || o.stride_w != 1) return std::nullopt;
  if (b.defined() && (b.ndim() != 1 || b.dim(0) != w.dim(0))) return std::nullopt;
  kernels::Conv2dGeometry g{};
  try {
    g = kernels::make_conv2d_geometry(x.shape(), w.shape(),
                                      {1, 1, o.pad_top, o.pad_left, o.pad_bottom, o.pad_right});
  } catch (const ValueError&) {
    return std::nullopt;  // conv2d raises it
  }
  if (g.P < 2 || g.Q < 2) return std::nullopt;
  return g;
}

Tensor conv_relu_maxpool(const kernels::Conv2dGeometry& g, const Tensor& x, const Tensor& w,
                         const Tensor& b, bool relu_act) {
  Tensor y = Tensor::empty({g.N, g.K, g.P / 2, g.Q / 2});
  kernels::conv2d_forward_maxpool2x2(
      g, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data(),
      relu_act ? kernels::Activation::relu : kernels::Activation::none);
  return y;
}

}  // namespace

void InferencePlan::add_conv2d(const Tensor& w, const Tensor& b, const Conv2dOptions& opt,
                               const std::string& activation) {
  PCNN_CHECK_TYPE(w.defined(), "InferencePlan.add_conv2d: weight is None");
  Step s{Kind::conv2d, w, b, opt, {}, checked_activation(activation)};
  steps_.push_back(s);
}

void InferencePlan::add_max_pool2d(const Pool2dOptions& opt) {
  steps_.push_back({Kind::max_pool2d, {}, {}, {}, opt, ""});
}

void InferencePlan::add_avg_pool2d(const Pool2dOptions& opt) {
  steps_.push_back({Kind::avg_pool2d, {}, {}, {}, opt, ""});
}

void InferencePlan::add_flatten() {
  steps_.push_back({Kind::flatten, {}, {}, {}, {}, ""});
}

void InferencePlan::add_linear(const Tensor& w, const Tensor& b, const std::string& activation) {
  PCNN_CHECK_TYPE(w.defined(), "InferencePlan.add_linear: weight is None");
  steps_.push_back({Kind::linear, w, b, {}, {}, checked_activation(activation)});
}

void InferencePlan::add_activation(const std::string& activation) {
  steps_.push_back({Kind::activation, {}, {}, {}, {}, checked_activation(activation)});
}

Tensor InferencePlan::run(const Tensor& x) const {
  PCNN_CHECK_TYPE(x.defined(), "InferencePlan.run: input is None");
  NoGradGuard no_grad;
  Tensor h = x;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    switch (s.kind) {
      case Kind::conv2d: {
        const bool next_pool = i + 1 < steps_.size() && steps_[i + 1].kind == Kind::max_pool2d &&
                               is_2x2_pool(steps_[i + 1].pool);
        std::optional<kernels::Conv2dGeometry> fused;
        if (next_pool && (s.activation.empty() || s.activation == "relu")) {
          fused = fusable_geometry(h, s.w, s.b, s.conv);
        }
        if (fused) {
          h = conv_relu_maxpool(*fused, h, s.w, s.b, s.activation == "relu");
          ++i;  // the pool is done
        } else if (kernels::Activation act; fused_activation(s.activation, &act)) {
          h = detail::conv2d_activated(h, s.w, s.b, s.conv, act);  // in the conv's output pass
        } else {
          h = apply_activation(s.activation, conv2d(h, s.w, s.b, s.conv));
        }
        break;
      }
      case Kind::max_pool2d:
        h = max_pool2d(h, s.pool);
        break;
      case Kind::avg_pool2d:
        h = avg_pool2d(h, s.pool);
        break;
      case Kind::flatten:
        h = flatten(h, 1);
        break;
      case Kind::linear:
        h = apply_activation(s.activation, linear(h, s.w, s.b));
        break;
      case Kind::activation:
        h = apply_activation(s.activation, h);
        break;
    }
  }
  return h;
}

}  // namespace pocketcnn
