// batch_norm: argument checks, the running-statistics update and the tape node. The arithmetic is
// in kernels/norm/batchnorm.h (ISA-dispatched, threaded; tested against batchnorm_ref.cpp).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/norm/batchnorm.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

void check_channel_vector(const char* what, const Tensor& t, int64_t C, const Tensor& x) {
  if (!t.defined()) return;
  PCNN_CHECK(t.ndim() == 1 && t.dim(0) == C, "batch_norm: ", what, " must have shape (", C,
             ",) for input of shape ", shape_str(x.shape()), " (channels on axis 1), got ",
             shape_str(t.shape()));
}

kernels::BatchNormGeometry batch_norm_geometry(const Tensor& x) {
  PCNN_CHECK_TYPE(x.defined(), "batch_norm: input is None");
  PCNN_CHECK(x.ndim() >= 2, "batch_norm: input must be (N, C) or (N, C, H, W), got shape ",
             shape_str(x.shape()));
  kernels::BatchNormGeometry g;
  g.N = x.dim(0);
  g.C = x.dim(1);
  g.HW = 1;
  for (int64_t i = 2; i < x.ndim(); ++i) g.HW *= x.dim(i);
  PCNN_CHECK(g.N > 0 && g.C > 0 && g.HW > 0, "batch_norm: input must not be empty, got shape ",
             shape_str(x.shape()));
  return g;
}

// running = (1 - momentum) * running + momentum * batch, in place (the variance unbiased).
void update_running(const kernels::BatchNormGeometry& g, const BatchNormOptions& opt,
                    const Tensor& mean, const Tensor& var, const Tensor& running_mean,
                    const Tensor& running_var) {
  const double m = static_cast<double>(g.per_channel()), unbias = m / (m - 1.0);
  const double keep = 1.0 - opt.momentum;
  for (int64_t c = 0; c < g.C; ++c) {
    if (running_mean.defined()) {
      float& r = running_mean.data()[c];
      r = static_cast<float>(keep * r + opt.momentum * mean.data()[c]);
    }
    if (running_var.defined()) {
      float& r = running_var.data()[c];
      r = static_cast<float>(keep * r + opt.momentum * unbias * var.data()[c]);
    }
  }
  // The inference plan folds these into the conv before them: its fold is stale now.
  if (running_mean.defined()) running_mean.bump_version();
  if (running_var.defined()) running_var.bump_version();
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, const BatchNormOptions& opt) {
  const kernels::BatchNormGeometry g = batch_norm_geometry(x);
  check_channel_vector("running_mean", running_mean, g.C, x);
  check_channel_vector("running_var", running_var, g.C, x);
  check_channel_vector("weight", weight, g.C, x);
  check_channel_vector("bias", bias, g.C, x);
  PCNN_CHECK(std::isfinite(opt.eps) && opt.eps > 0, "batch_norm: eps must be > 0, got ", opt.eps);
  PCNN_CHECK(opt.momentum >= 0 && opt.momentum <= 1, "batch_norm: momentum must be in [0, 1], got ",
             opt.momentum);
  if (opt.training) {
    PCNN_CHECK(g.per_channel() > 1, "batch_norm: training needs more than one value per channel, ",
               "got input of shape ", shape_str(x.shape()));
  } else {
    PCNN_CHECK(running_mean.defined() && running_var.defined(),
               "batch_norm: inference (training=False) needs running_mean and running_var");
  }

  Tensor mean = Tensor::empty({g.C}), invstd = Tensor::empty({g.C});
  if (opt.training) {
    Tensor var = Tensor::empty({g.C});
    kernels::batchnorm_stats(g, x.data(), mean.data(), var.data());
    for (int64_t c = 0; c < g.C; ++c) {
      invstd.data()[c] = static_cast<float>(1.0 / std::sqrt(var.data()[c] + opt.eps));
    }
    update_running(g, opt, mean, var, running_mean, running_var);
  } else {
    for (int64_t c = 0; c < g.C; ++c) {
      mean.data()[c] = running_mean.data()[c];
      invstd.data()[c] = static_cast<float>(1.0 / std::sqrt(running_var.data()[c] + opt.eps));
    }
  }
  // y = x * scale + shift with scale = gamma * invstd, shift = beta - mean * scale.
  // Tensors: the backward of the fused ReLU recomputes its mask from them.
  Tensor scale = Tensor::empty({g.C}), shift = Tensor::empty({g.C});
  for (int64_t c = 0; c < g.C; ++c) {
    const float gm = weight.defined() ? weight.data()[c] : 1.0f;
    const float bt = bias.defined() ? bias.data()[c] : 0.0f;
    scale.data()[c] = gm * invstd.data()[c];
    shift.data()[c] = bt - mean.data()[c] * scale.data()[c];
  }
  Tensor y = Tensor::empty(x.shape());
  if (opt.relu) {
    kernels::batchnorm_apply_relu(g, x.data(), scale.data(), shift.data(), y.data());
  } else {
    kernels::batchnorm_apply(g, x.data(), scale.data(), shift.data(), y.data());
  }

  const Tensor xs = x.detach(), ws = weight.defined() ? weight.detach() : Tensor();
  const bool batch_stats = opt.training, relu = opt.relu;
  return record(
      relu ? "batch_norm_relu" : "batch_norm", y, {x, weight, bias},
      [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
        std::vector<Tensor> grads(3);
        if (needs[0]) grads[0] = Tensor::empty(xs.shape());
        if (needs[1]) grads[1] = Tensor::empty({g.C});
        if (needs[2]) grads[2] = Tensor::empty({g.C});
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data() : nullptr; };
        if (relu) {
          kernels::batchnorm_relu_backward(g, batch_stats, xs.data(), mean.data(), invstd.data(),
                                           ptr(ws), scale.data(), shift.data(), dy.data(),
                                           ptr(grads[0]), ptr(grads[1]), ptr(grads[2]));
          return grads;
        }
        kernels::batchnorm_backward(g, batch_stats, xs.data(), mean.data(), invstd.data(), ptr(ws),
                                    dy.data(), ptr(grads[0]), ptr(grads[1]), ptr(grads[2]));
        return grads;
      });
}

}  // namespace pocketcnn
