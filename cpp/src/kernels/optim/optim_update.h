// Optimiser updates and gradient-norm helpers on flat float arrays: the kernels behind
// pocketcnn/optim.h (which checks the arguments and computes the per-step scalars). Reference
// loops (optim_update_ref.cpp) and ISA-dispatched, vectorised and threaded versions
// (optim_update_impl.h), which the tests compare against the references.
//
// Why they are kernels: Adam's square root and two divisions per weight made the scalar loop ~5%
// of a lecture-net training step on one thread (537 us for its 138k weights at batch 64) and the
// gradient norm's one long dependent chain of double additions another ~1.4%; on two threads
// both ran on one core while the other waited.
//
// Every update is elementwise: the result does not depend on the thread count. sum_of_squares
// sums fixed chunks and then the chunks in order: the same for every thread count too.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// One SGD step's scalars (torch.optim.SGD): see sgd_update in pocketcnn/optim.h.
struct SgdStep {
  float lr = 0.0f, momentum = 0.0f, dampening = 0.0f, weight_decay = 0.0f;
  bool nesterov = false;
  bool first_step = false;  // with momentum: the buffer starts as the gradient
};

// One Adam / AdamW step's scalars, as torch.optim.Adam computes them for the step.
struct AdamStep {
  float step_size = 0.0f;              // lr / (1 - beta1^step)
  float bias_correction2_sqrt = 1.0f;  // sqrt(1 - beta2^step)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  bool decoupled = false;  // AdamW: p *= decay before the step; Adam: g += weight_decay * p
  float decay = 1.0f;      // 1 - lr * weight_decay (AdamW)
};

// p (n) -= lr * d with d = g + weight_decay * p, through the momentum buffer buf (n; null when
// momentum == 0): buf = first_step ? d : momentum * buf + (1 - dampening) * d, then d = nesterov ?
// d + momentum * buf : buf.
void sgd_update(int64_t n, float* p, const float* g, float* buf, const SgdStep& s);
void sgd_update_ref(int64_t n, float* p, const float* g, float* buf, const SgdStep& s);

// p, m, v (n) one Adam step with gradient g (n):
//   m = beta1 * m + (1 - beta1) * d,  v = beta2 * v + (1 - beta2) * d * d,
//   p -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps).
void adam_update(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep& s);
void adam_update_ref(int64_t n, float* p, const float* g, float* m, float* v, const AdamStep& s);

// sum of x[i]^2 (n), accumulated in double.
double sum_of_squares(int64_t n, const float* x);
double sum_of_squares_ref(int64_t n, const float* x);

// x (n) *= s.
void scale_in_place(int64_t n, float* x, float s);
void scale_in_place_ref(int64_t n, float* x, float s);

}  // namespace pocketcnn::kernels
