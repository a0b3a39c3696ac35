#include "pocketcnn/inference.h"

#include <cmath>
#include <initializer_list>
#include <optional>

#include "kernels/conv/conv2d.h"
#include "kernels/conv/conv_geometry.h"
#include "kernels/conv/frozen_weights.h"
#include "ops/conv_fused.h"
#include "ops/plan_activation.h"
#include "plan_chunks.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"

namespace pocketcnn {

namespace {

// The activation names: ops/plan_activation.h (canonical spelling, or ValueError).
std::string checked_activation(const std::string& name) {
  return detail::plan_activation(name);
}

// Applied to a fresh step output (conv, linear, batch norm): the activations after relu /
// sigmoid / tanh run their vectorised kernel in place.
Tensor apply_activation(const std::string& a, const Tensor& x) {
  return detail::apply_plan_activation(a, x, /*in_place=*/true);
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
    return detail::conv_fusable_activation(a, act);  // gelu, silu, ... (plan_activation.h)
  return true;
}

bool is_2x2_pool(const Pool2dOptions& p) {
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0 && p.extra_h == 0 && p.extra_w == 0;
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

// Whether conv + act + 2x2 max pool may run as the fused kernel, which pools first and activates
// only the pooled quarter (4x fewer sigmoids / tanhs): act commutes with the pool
// (kernels::pool_commutes), and so does adding the bias, which holds for a finite one that is not
// -0 (+inf - inf would make a NaN the pool-first order does not see; relu(-0) is -0 while negatives
// give +0, a tie the pool breaks by position). Anything else takes the unfused ops (same floats).
bool maxpool_fuses(kernels::Activation act, const Tensor& b) {
  if (!kernels::pool_commutes(act)) return false;
  if (!b.defined()) return true;
  const float* p = b.data();
  for (int64_t k = 0; k < b.numel(); ++k) {
    if (!std::isfinite(p[k]) || (p[k] == 0.0f && std::signbit(p[k]))) return false;
  }
  return true;
}

Tensor conv_act_maxpool(const kernels::Conv2dGeometry& g, const Tensor& x, const Tensor& w,
                        const Tensor& b, kernels::Activation act) {
  Tensor y = Tensor::empty({g.N, g.K, g.P / 2, g.Q / 2});
  kernels::conv2d_forward_maxpool2x2(g, x.data(), w.data(), b.defined() ? b.data() : nullptr,
                                     y.data(), act);
  return y;
}

// conv + bias + any fusable activation + 2x2 average pool (the activation before the mean).
Tensor conv_act_avgpool(const kernels::Conv2dGeometry& g, const Tensor& x, const Tensor& w,
                        const Tensor& b, kernels::Activation act) {
  Tensor y = Tensor::empty({g.N, g.K, g.P / 2, g.Q / 2});
  kernels::conv2d_forward_avgpool2x2(g, x.data(), w.data(), b.defined() ? b.data() : nullptr,
                                     y.data(), act);
  return y;
}

}  // namespace

void InferencePlan::add_conv2d(const Tensor& w, const Tensor& b, const Conv2dOptions& opt,
                               const std::string& activation) {
  PCNN_CHECK_TYPE(w.defined(), "InferencePlan.add_conv2d: weight is None");
  Step s{Kind::conv2d, w, b, opt, {}, checked_activation(activation), {}, {}};
  steps_.push_back(s);
}

void InferencePlan::add_max_pool2d(const Pool2dOptions& opt) {
  steps_.push_back({Kind::max_pool2d, {}, {}, {}, opt, "", {}, {}});
}

void InferencePlan::add_avg_pool2d(const Pool2dOptions& opt) {
  steps_.push_back({Kind::avg_pool2d, {}, {}, {}, opt, "", {}, {}});
}

void InferencePlan::add_flatten() {
  steps_.push_back({Kind::flatten, {}, {}, {}, {}, "", {}, {}});
}

void InferencePlan::add_reshape(const Shape& shape) {
  shape_numel(shape);  // checks the dims
  steps_.push_back({Kind::reshape, {}, {}, {}, {}, "", {}, shape});
}

void InferencePlan::add_zero_pad2d(int64_t top, int64_t bottom, int64_t left, int64_t right) {
  steps_.push_back({Kind::zero_pad2d, {}, {}, {}, {}, "", {}, {top, bottom, left, right}});
}

void InferencePlan::add_linear(const Tensor& w, const Tensor& b, const std::string& activation) {
  PCNN_CHECK_TYPE(w.defined(), "InferencePlan.add_linear: weight is None");
  steps_.push_back({Kind::linear, w, b, {}, {}, checked_activation(activation), {}, {}});
}

void InferencePlan::add_activation(const std::string& activation) {
  const std::string a = checked_activation(activation);
  if (!steps_.empty()) {
    Step& last = steps_.back();
    const bool takes =
        last.kind == Kind::conv2d || last.kind == Kind::linear || last.kind == Kind::batch_norm;
    if (takes && last.activation.empty()) {
      last.activation = a;
      return;
    }
  }
  steps_.push_back({Kind::activation, {}, {}, {}, {}, a, {}, {}});
}

void InferencePlan::add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                   const Tensor& var, double eps, const std::string& activation) {
  PCNN_CHECK_TYPE(mean.defined() && var.defined(),
                  "InferencePlan.add_batch_norm: mean and var are required");
  PCNN_CHECK(mean.ndim() == 1 && var.shape() == mean.shape() &&
                 (!gamma.defined() || gamma.shape() == mean.shape()) &&
                 (!beta.defined() || beta.shape() == mean.shape()),
             "InferencePlan.add_batch_norm: gamma, beta, mean, var must all have shape (C,), got "
             "mean ",
             shape_str(mean.shape()), ", var ", shape_str(var.shape()));
  PCNN_CHECK(std::isfinite(eps) && eps > 0, "InferencePlan.add_batch_norm: eps must be > 0");
  const std::string a = checked_activation(activation);
  const BatchNormTensors bn{gamma, beta, mean, var, eps};
  if (!steps_.empty()) {
    Step& last = steps_.back();
    const bool foldable = (last.kind == Kind::conv2d || last.kind == Kind::linear) &&
                          last.activation.empty() && !last.bn.defined() && last.w.defined() &&
                          last.w.ndim() >= 1 && last.w.dim(0) == mean.dim(0);
    if (foldable) {
      last.bn = bn;
      last.activation = a;
      return;
    }
  }
  steps_.push_back({Kind::batch_norm, {}, {}, {}, {}, a, bn, {}});
}

namespace {

// The versions of a step's defined source tensors, in a fixed order; false if one is untracked
// (its data may change without a version bump: nothing derived from it may be kept).
bool source_versions(std::initializer_list<const Tensor*> sources, std::vector<uint64_t>* out) {
  out->clear();
  for (const Tensor* t : sources) {
    if (!t->defined()) continue;
    if (!t->writes_tracked()) return false;
    out->push_back(t->version());
  }
  return true;
}

}  // namespace

void InferencePlan::current_weights(const Step& s, Tensor* w, Tensor* b, uint64_t* stamp) {
  const BatchNormTensors& bn = s.bn;
  // Read before the fold: a write during it bumps past them, so the next run folds again.
  std::vector<uint64_t> versions;
  const bool tracked =
      source_versions({&s.w, &s.b, &bn.gamma, &bn.beta, &bn.mean, &bn.var}, &versions);
  DerivedWeights& d = *s.derived;
  std::lock_guard<std::mutex> lock(d.mutex);
  if (tracked && d.valid && d.versions == versions) {
    *w = d.w, *b = d.b, *stamp = d.stamp;
    return;
  }
  if (bn.defined()) {
    fold_batch_norm(s, w, b);
  } else {
    *w = s.w, *b = s.b;
  }
  d.valid = tracked;
  d.versions = std::move(versions);
  d.w = tracked ? *w : Tensor(), d.b = tracked ? *b : Tensor();
  d.stamp = *stamp = tracked ? kernels::new_frozen_weights_stamp() : 0;
}

void InferencePlan::fold_batch_norm(const Step& s, Tensor* w, Tensor* b) {
  const int64_t K = s.w.dim(0), per_k = s.w.numel() / K;
  *w = Tensor::empty(s.w.shape());
  *b = Tensor::empty({K});
  const BatchNormTensors& bn = s.bn;
  for (int64_t k = 0; k < K; ++k) {
    const double gm = bn.gamma.defined() ? bn.gamma.data()[k] : 1.0;
    const double bt = bn.beta.defined() ? bn.beta.data()[k] : 0.0;
    const double scale = gm / std::sqrt(static_cast<double>(bn.var.data()[k]) + bn.eps);
    const double bias = s.b.defined() ? s.b.data()[k] : 0.0;
    const float* src = s.w.data() + k * per_k;
    float* dst = w->data() + k * per_k;
    for (int64_t i = 0; i < per_k; ++i) dst[i] = static_cast<float>(src[i] * scale);
    b->data()[k] = static_cast<float>((bias - bn.mean.data()[k]) * scale + bt);
  }
}

Tensor InferencePlan::run(const Tensor& x) const {
  PCNN_CHECK_TYPE(x.defined(), "InferencePlan.run: input is None");
  // The steps before the first dense layer run in chunks of images (plan_chunks.h); a dense layer
  // runs on the whole batch, which reads its weight matrix once instead of once per chunk.
  size_t per_image = 0;
  while (per_image < steps_.size() && steps_[per_image].kind != Kind::linear) ++per_image;
  if (per_image > 0 && x.ndim() >= 1 && detail::runs_in_chunks(x.dim(0))) {
    const Tensor h =
        detail::run_in_chunks(x, [&](const Tensor& c) { return run_steps(c, 0, per_image); });
    return run_steps(h, per_image, steps_.size());
  }
  return run_steps(x, 0, steps_.size());
}

Tensor InferencePlan::run_steps(const Tensor& x, size_t begin, size_t end) const {
  NoGradGuard no_grad;
  Tensor h = x;
  for (size_t i = begin; i < end; ++i) {
    const Step& s = steps_[i];
    Tensor w, b;
    uint64_t stamp = 0;
    if (s.kind == Kind::conv2d || s.kind == Kind::linear) current_weights(s, &w, &b, &stamp);
    // The kernels keep their packs of w under the stamp (kernels/conv/frozen_weights.h).
    const kernels::FrozenWeightsScope frozen(stamp);
    switch (s.kind) {
      case Kind::conv2d: {
        const bool next_2x2 = i + 1 < end && is_2x2_pool(steps_[i + 1].pool);
        const bool next_max = next_2x2 && steps_[i + 1].kind == Kind::max_pool2d;
        const bool next_avg = next_2x2 && steps_[i + 1].kind == Kind::avg_pool2d;
        kernels::Activation act = kernels::Activation::none;
        const bool act_fuses = fused_activation(s.activation, &act);
        std::optional<kernels::Conv2dGeometry> fused;
        // Grouped / dilated / depthwise convs have their own op (depthwise 3x3: fast kernels).
        const bool grouped = s.conv.groups != 1 || s.conv.dilation_h != 1 || s.conv.dilation_w != 1;
        if (!grouped && act_fuses && ((next_max && maxpool_fuses(act, b)) || next_avg)) {
          fused = fusable_geometry(h, w, b, s.conv);
        }
        if (grouped) {
          h = apply_activation(s.activation, conv2d_grouped(h, w, b, s.conv));
        } else if (fused) {
          h = next_avg ? conv_act_avgpool(*fused, h, w, b, act)
                       : conv_act_maxpool(*fused, h, w, b, act);
          ++i;  // the pool is done
        } else if (act_fuses) {
          h = detail::conv2d_activated(h, w, b, s.conv, act);  // in the conv's output pass
        } else {
          h = apply_activation(s.activation, conv2d(h, w, b, s.conv));
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
      case Kind::reshape: {
        Shape shape{h.ndim() > 0 ? h.dim(0) : 0};
        shape.insert(shape.end(), s.shape.begin(), s.shape.end());
        h = reshape(h, shape);
        break;
      }
      case Kind::zero_pad2d:
        h = zero_pad2d(h, s.shape[0], s.shape[1], s.shape[2], s.shape[3]);
        break;
      case Kind::linear:
        h = apply_activation(s.activation, linear(h, w, b));
        break;
      case Kind::batch_norm: {
        BatchNormOptions o;
        o.training = false;
        o.eps = s.bn.eps;
        h = apply_activation(s.activation,
                             batch_norm(h, s.bn.mean, s.bn.var, s.bn.gamma, s.bn.beta, o));
        break;
      }
      case Kind::activation:  // h may be the caller's input (or a view of it): not in place
        h = detail::apply_plan_activation(s.activation, h, /*in_place=*/false);
        break;
    }
  }
  return h;
}

}  // namespace pocketcnn
