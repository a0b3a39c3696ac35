// Optimiser parameter updates: the PyTorch formulas (torch.optim.SGD / Adam / AdamW, single-tensor
// path), applied in place to a parameter and its state tensors. The Python optimisers
// (python/pocketcnn/optim.py) keep the state and call these once per parameter per step.
//
// All tensors of one call must have the parameter's shape. Each update reads the gradient, writes
// the parameter and the state; none records autograd history.
#pragma once

#include <cstdint>
#include <vector>

#include "pocketcnn/tensor.h"

namespace pocketcnn {

struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;  // L2: added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

// g = grad + weight_decay * param
// if momentum != 0:
//   buf = g                                     on the first step (first_step == true)
//   buf = momentum * buf + (1 - dampening) * g  afterwards
//   g   = g + momentum * buf  (nesterov)  or  buf
// param -= lr * g
// momentum_buffer may be undefined when momentum == 0.
void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdOptions& opt, bool first_step);

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;  // false: Adam (L2 in the gradient); true: AdamW
};

// step counts from 1 (the step being taken).
// AdamW: param *= 1 - lr * weight_decay;  Adam: g = grad + weight_decay * param
// exp_avg    = beta1 * exp_avg + (1 - beta1) * g
// exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
// param     -= lr / (1 - beta1^step) * exp_avg / (sqrt(exp_avg_sq) / sqrt(1 - beta2^step) + eps)
void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, int64_t step, const AdamOptions& opt);

// Sum of squares of all elements of all tensors (accumulated in double): the squared global norm
// for gradient clipping.
double sum_of_squares(const std::vector<Tensor>& tensors);

// t *= s in place (gradient clipping).
void scale_in_place(const Tensor& t, float s);

}  // namespace pocketcnn
