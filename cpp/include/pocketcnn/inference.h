// A compiled forward pass for inference: a Sequential model's layers run as one C++ call, without
// the autograd tape or a Python round trip per layer, and with the layers fused where that saves
// a pass over memory: conv + bias + (ReLU) + 2x2 max pool is one kernel whose pooling is the GEMM
// epilogue (the conv output never reaches memory, and a row/column the pool drops is never
// computed); any other conv applies its ReLU / sigmoid / tanh in its output pass. Results equal
// the layer-by-layer ops exactly (tests/cpp/test_inference.cpp).
// Weights are held by reference (the same tensors as the model's), so optimiser updates show.
#pragma once

#include <string>
#include <vector>

#include "pocketcnn/ops.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn {

class InferencePlan {
 public:
  // activation: "" / "linear" (none), "relu", "sigmoid", "tanh", "softmax" (over dim 1).
  void add_conv2d(const Tensor& w, const Tensor& b, const Conv2dOptions& opt,
                  const std::string& activation);
  void add_max_pool2d(const Pool2dOptions& opt);
  void add_avg_pool2d(const Pool2dOptions& opt);
  void add_flatten();
  void add_linear(const Tensor& w, const Tensor& b, const std::string& activation);
  void add_activation(const std::string& activation);

  // The forward pass of x (no graph is recorded). Bad shapes raise ValueError like the ops do.
  Tensor run(const Tensor& x) const;
  size_t size() const { return steps_.size(); }

 private:
  enum class Kind { conv2d, max_pool2d, avg_pool2d, flatten, linear, activation };
  struct Step {
    Kind kind;
    Tensor w, b;
    Conv2dOptions conv;
    Pool2dOptions pool;
    std::string activation;
  };
  std::vector<Step> steps_;
};

}  // namespace pocketcnn
