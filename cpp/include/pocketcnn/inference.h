// A compiled forward pass for inference: a Sequential model's layers run as one C++ call, without
// the autograd tape or a Python round trip per layer, and with the layers fused where that saves
// a pass over memory: conv + bias + (ReLU) + 2x2 max pool is one kernel whose pooling is the GEMM
// epilogue (the conv output never reaches memory, and a row/column the pool drops is never
// computed); so is conv + bias + any activation + 2x2 average pool (the activation before the
// mean: LeNet's tanh); any other conv applies its ReLU / sigmoid / tanh in its output pass.
// Results equal the layer-by-layer ops exactly (tests/cpp/test_inference.cpp).
// Weights are held by reference (the same tensors as the model's), so optimiser updates show.
// What the plan derives from them (a batch norm folded into the conv or dense layer before it, and
// the kernels' packed layouts and Winograd transforms of the weights) is made once and kept while
// every source tensor's version (tensor.h) stays the one it was made from; an untracked source (a
// live numpy view, foreign memory) is derived again on every run.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pocketcnn/ops.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn {

class InferencePlan {
 public:
  // activation: "" / "linear" (none), "relu", "sigmoid", "tanh", "softmax" (over dim 1), or
  // one of ops/plan_activation.h's (leaky_relu[:slope], elu[:alpha], gelu, silu, ...; those run
  // their vectorised kernel in place on the step's output).
  // With groups or dilation in `opt` the step runs conv2d_grouped (3x3 depthwise: fast kernels).
  void add_conv2d(const Tensor& w, const Tensor& b, const Conv2dOptions& opt,
                  const std::string& activation);
  void add_max_pool2d(const Pool2dOptions& opt);
  void add_avg_pool2d(const Pool2dOptions& opt);
  void add_flatten();
  // x (N, ...) -> (N, *shape): the per-sample shape.
  void add_reshape(const Shape& shape);
  void add_zero_pad2d(int64_t top, int64_t bottom, int64_t left, int64_t right);
  void add_linear(const Tensor& w, const Tensor& b, const std::string& activation);
  // An activation right after a conv2d, linear or batch-norm step that has none becomes that
  // step's own (conv + ReLU then also fuses with a following 2x2 max pool).
  void add_activation(const std::string& activation);
  // Inference-mode batch norm over channel axis 1 with the given (C) tensors (gamma, beta may be
  // undefined). Right after a conv2d or linear step with no activation and K = C outputs it is
  // folded into that step: w' = w * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var +
  // eps), computed from the current tensors on every run (so updates to them show).
  void add_batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                      const Tensor& var, double eps, const std::string& activation);

  // The forward pass of x (no graph is recorded). Bad shapes raise ValueError like the ops do.
  // A large batch runs in chunks of images, on all threads (src/plan_chunks.h): the same floats.
  Tensor run(const Tensor& x) const;
  size_t size() const { return steps_.size(); }

 private:
  enum class Kind {
    conv2d,
    max_pool2d,
    avg_pool2d,
    flatten,
    linear,
    activation,
    batch_norm,
    reshape,
    zero_pad2d
  };
  struct BatchNormTensors {
    Tensor gamma, beta, mean, var;
    double eps = 0;
    bool defined() const { return mean.defined(); }
  };
  // A step's derived weights and the source versions they were made from (shared by copies of
  // the plan; the mutex makes concurrent runs safe).
  struct DerivedWeights {
    std::mutex mutex;
    bool valid = false;
    std::vector<uint64_t> versions;
    Tensor w, b;
    uint64_t stamp = 0;
  };
  struct Step {
    Kind kind;
    Tensor w, b;
    Conv2dOptions conv;
    Pool2dOptions pool;
    std::string activation;
    BatchNormTensors bn;  // batch_norm steps, and conv2d / linear steps with a folded batch norm
    Shape shape;          // reshape: per-sample shape; zero_pad2d: top, bottom, left, right
    std::shared_ptr<DerivedWeights> derived = std::make_shared<DerivedWeights>();
  };
  // The step's weight and bias with its folded batch norm applied (or its own, without one):
  // from s.derived while it is current, else computed (and kept where the sources are tracked);
  // stamp: names their content for the kernels' kept packs (kernels/conv/frozen_weights.h), 0
  // where a source is untracked.
  static void current_weights(const Step& s, Tensor* w, Tensor* b, uint64_t* stamp);
  static void fold_batch_norm(const Step& s, Tensor* w, Tensor* b);
  // Steps [begin, end) on x (run: the whole plan, possibly a chunk of the batch at a time).
  Tensor run_steps(const Tensor& x, size_t begin, size_t end) const;
  std::vector<Step> steps_;
};

}  // namespace pocketcnn
