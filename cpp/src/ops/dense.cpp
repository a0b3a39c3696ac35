// linear: y = x w^T + b, the fully connected layer. Kernels: kernels/gemm/dense.h (ISA-dispatched
// GEMMs; dense_ref.h is the reference they are tested against).
#include "kernels/gemm/dense.h"

#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  PCNN_CHECK_TYPE(x.defined(), "linear: input is None");
  PCNN_CHECK_TYPE(w.defined(), "linear: weight is None");
  PCNN_CHECK(x.ndim() == 2, "linear: input must be 2-D (N, in), got shape ", shape_str(x.shape()),
             "; flatten it first");
  PCNN_CHECK(w.ndim() == 2, "linear: weight must be 2-D (out, in), got shape ",
             shape_str(w.shape()));
  const int64_t N = x.dim(0), in = x.dim(1), out = w.dim(0);
  PCNN_CHECK(w.dim(1) == in, "linear: input has ", in, " features (shape ", shape_str(x.shape()),
             ") but weight expects ", w.dim(1), " (shape ", shape_str(w.shape()), ")");
  if (b.defined()) {
    PCNN_CHECK(b.ndim() == 1 && b.dim(0) == out, "linear: bias must have shape (", out, ",), got ",
               shape_str(b.shape()));
  }
  Tensor y = Tensor::empty({N, out});
  kernels::linear_forward(N, in, out, x.data(), w.data(), b.defined() ? b.data() : nullptr,
                          y.data());
  Tensor xs = x.detach(), ws = w.detach();
  const bool has_bias = b.defined();
  return record("linear", y, {x, w, b},
                [=](const Tensor& dy, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  std::vector<Tensor> grads(3);
                  if (needs[0]) {
                    grads[0] = Tensor::empty(xs.shape());
                    kernels::linear_backward_input(N, in, out, dy.data(), ws.data(),
                                                   grads[0].data());
                  }
                  if (needs[1] || needs[2]) {
                    Tensor dw = Tensor::empty(ws.shape());
                    Tensor db = has_bias ? Tensor::empty({out}) : Tensor();
                    kernels::linear_backward_weight(N, in, out, xs.data(), dy.data(), dw.data(),
                                                    has_bias ? db.data() : nullptr);
                    grads[1] = dw;
                    grads[2] = db;
                  }
                  return grads;
                });
}

}  // namespace pocketcnn
