// Losses: cross-entropy from logits (softmax fused in, numerically stable) and mean squared
// error. Both return a 0-d tensor, the mean over the batch (PyTorch's reduction='mean').
#include "kernels/pointwise/loss.h"

#include "kernels/pointwise/softmax.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels) {
  PCNN_CHECK_TYPE(logits.defined(), "cross_entropy: input is None");
  PCNN_CHECK(logits.ndim() == 2, "cross_entropy: input must be 2-D logits (N, C), got shape ",
             shape_str(logits.shape()));
  const int64_t N = logits.dim(0), C = logits.dim(1);
  PCNN_CHECK(static_cast<int64_t>(labels.size()) == N, "cross_entropy: input has batch size ", N,
             " (shape ", shape_str(logits.shape()), ") but target has ", labels.size(),
             " labels (shape (", labels.size(), ",))");
  PCNN_CHECK(N > 0, "cross_entropy: empty batch (input shape ", shape_str(logits.shape()),
             "); the mean over no samples is undefined");
  PCNN_CHECK(C > 0, "cross_entropy: input has no classes (shape ", shape_str(logits.shape()), ")");
  for (size_t i = 0; i < labels.size(); ++i) {
    PCNN_CHECK(labels[i] >= 0 && labels[i] < C, "cross_entropy: target[", i, "] = ", labels[i],
               " is out of range for ", C, " classes (input shape ", shape_str(logits.shape()),
               "); labels must be in [0, ", C, ")");
  }
  Tensor loss = Tensor::empty({});
  loss.data()[0] = kernels::cross_entropy_forward(N, C, logits.data(), labels.data());
  Tensor ls = logits.detach();
  return record("cross_entropy", loss, {logits},
                [=](const Tensor& g, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dlogits = Tensor::empty({N, C});
                  kernels::cross_entropy_backward(N, C, ls.data(), labels.data(), g.item(),
                                                  dlogits.data());
                  return {dlogits};
                });
}

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  PCNN_CHECK_TYPE(pred.defined(), "mse_loss: input is None");
  PCNN_CHECK_TYPE(target.defined(), "mse_loss: target is None");
  // No broadcasting: PyTorch silently broadcasts (N, 1) against (N,) into an (N, N) mean, which
  // is almost always a bug in the caller.
  PCNN_CHECK(pred.shape() == target.shape(), "mse_loss: input of shape ", shape_str(pred.shape()),
             " and target of shape ", shape_str(target.shape()),
             " must have the same shape (no broadcasting; reshape one of them)");
  PCNN_CHECK(pred.numel() > 0, "mse_loss: input is empty (shape ", shape_str(pred.shape()),
             "); the mean over no elements is undefined");
  const int64_t n = pred.numel();
  Tensor loss = Tensor::empty({});
  loss.data()[0] = kernels::mse_forward(n, pred.data(), target.data());
  Tensor ps = pred.detach(), ts = target.detach();
  return record("mse_loss", loss, {pred, target},
                [=](const Tensor& g, const std::vector<bool>& needs) -> std::vector<Tensor> {
                  Tensor dp = needs[0] ? Tensor::empty(ps.shape()) : Tensor();
                  Tensor dt = needs[1] ? Tensor::empty(ts.shape()) : Tensor();
                  kernels::mse_backward(n, ps.data(), ts.data(), g.item(),
                                        needs[0] ? dp.data() : nullptr,
                                        needs[1] ? dt.data() : nullptr);
                  return {dp, dt};
                });
}

}  // namespace pocketcnn
