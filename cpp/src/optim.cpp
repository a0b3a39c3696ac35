// Optimiser updates: argument checks and the step's scalars here; the loops over the flat
// parameter are kernels (kernels/optim/optim_update.h: vectorised per ISA, threaded when large).
#include "pocketcnn/optim.h"

#include <cmath>

#include "kernels/optim/optim_update.h"
#include "pocketcnn/error.h"

namespace pocketcnn {

namespace {

void check_same_shape(const char* op, const char* name, const Tensor& param, const Tensor& t) {
  PCNN_CHECK_TYPE(t.defined(), op, ": ", name, " is None");
  PCNN_CHECK(t.shape() == param.shape(), op, ": ", name, " must have the parameter's shape ",
             shape_str(param.shape()), ", got ", shape_str(t.shape()));
}

void check_finite_nonneg(const char* op, const char* name, float v) {
  PCNN_CHECK(std::isfinite(v) && v >= 0.0f, op, ": ", name, " must be a finite number >= 0, got ",
             v);
}

}  // namespace

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdOptions& opt, bool first_step) {
  const char* op = "sgd_update";
  PCNN_CHECK_TYPE(param.defined(), op, ": param is None");
  check_same_shape(op, "grad", param, grad);
  check_finite_nonneg(op, "lr", opt.lr);
  check_finite_nonneg(op, "momentum", opt.momentum);
  check_finite_nonneg(op, "weight_decay", opt.weight_decay);
  PCNN_CHECK(std::isfinite(opt.dampening), op, ": dampening must be finite, got ", opt.dampening);
  PCNN_CHECK(!opt.nesterov || (opt.momentum > 0.0f && opt.dampening == 0.0f), op,
             ": nesterov needs momentum > 0 and dampening == 0, got momentum ", opt.momentum,
             " and dampening ", opt.dampening);
  const bool use_momentum = opt.momentum != 0.0f;
  if (use_momentum) check_same_shape(op, "momentum_buffer", param, momentum_buffer);

  kernels::SgdStep s;
  s.lr = opt.lr, s.momentum = opt.momentum, s.dampening = opt.dampening;
  s.weight_decay = opt.weight_decay, s.nesterov = opt.nesterov, s.first_step = first_step;
  kernels::sgd_update(param.numel(), param.data(), grad.data(),
                      use_momentum ? momentum_buffer.data() : nullptr, s);
  param.bump_version();  // caches of the weights (the inference plan's packs) are stale now
  if (use_momentum) momentum_buffer.bump_version();
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, int64_t step, const AdamOptions& opt) {
  const char* op = opt.decoupled_weight_decay ? "adamw_update" : "adam_update";
  PCNN_CHECK_TYPE(param.defined(), op, ": param is None");
  check_same_shape(op, "grad", param, grad);
  check_same_shape(op, "exp_avg", param, exp_avg);
  check_same_shape(op, "exp_avg_sq", param, exp_avg_sq);
  PCNN_CHECK(step >= 1, op, ": step counts from 1, got ", step);
  check_finite_nonneg(op, "lr", opt.lr);
  check_finite_nonneg(op, "eps", opt.eps);
  check_finite_nonneg(op, "weight_decay", opt.weight_decay);
  PCNN_CHECK(opt.beta1 >= 0.0f && opt.beta1 < 1.0f, op, ": beta1 must be in [0, 1), got ",
             opt.beta1);
  PCNN_CHECK(opt.beta2 >= 0.0f && opt.beta2 < 1.0f, op, ": beta2 must be in [0, 1), got ",
             opt.beta2);

  // Scalars as PyTorch computes them: Python floats (double), rounded to float when applied.
  const double bias_correction1 = 1.0 - std::pow(static_cast<double>(opt.beta1), step);
  const double bias_correction2 = 1.0 - std::pow(static_cast<double>(opt.beta2), step);
  kernels::AdamStep s;
  s.step_size = static_cast<float>(opt.lr / bias_correction1);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.beta1 = opt.beta1, s.beta2 = opt.beta2, s.eps = opt.eps, s.weight_decay = opt.weight_decay;
  s.decoupled = opt.decoupled_weight_decay;
  // AdamW's decoupled decay factor, computed in double like PyTorch's Python scalar.
  s.decay = static_cast<float>(1.0 - static_cast<double>(opt.lr) * opt.weight_decay);
  kernels::adam_update(param.numel(), param.data(), grad.data(), exp_avg.data(), exp_avg_sq.data(),
                       s);
  param.bump_version();  // caches of the weights (the inference plan's packs) are stale now
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
}

double sum_of_squares(const std::vector<Tensor>& tensors) {
  double total = 0.0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    PCNN_CHECK_TYPE(tensors[k].defined(), "sum_of_squares: tensor ", k, " is None");
    total += kernels::sum_of_squares(tensors[k].numel(), tensors[k].data());
  }
  return total;
}

void scale_in_place(const Tensor& t, float s) {
  PCNN_CHECK_TYPE(t.defined(), "scale_in_place: tensor is None");
  kernels::scale_in_place(t.numel(), t.data(), s);
  t.bump_version();
}

}  // namespace pocketcnn
