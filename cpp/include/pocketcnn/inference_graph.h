// The inference plan of a functional (graph) model: steps over numbered value slots, in
// topological order. Slot 0 is the input; every step reads slots written before it and writes
// one new slot. A step is
// - a chain: an InferencePlan (the Sequential plan, with its BatchNorm folding and conv + ReLU
//   + pool fusion) run on one slot: the layers between two branch points;
// - a sum: the Add of a residual connection, with the activation after it fused into the same
//   pass (kernels/pointwise/merge_sum.h); it writes into an input's buffer when this sum is that
//   buffer's last reader (no allocation, and the buffer is hot in cache);
// - a concat along a dim.
// After each step the slots it was the last reader of are released, so their buffers go back to
// the memory cache (memory.h) and the next step that needs that size reuses them.
// Results equal the layer-by-layer forward pass (tests/cpp/test_inference_graph.cpp, and
// tests/python/test_graph_plan.py against the tape).
#pragma once

#include <string>
#include <vector>

#include "pocketcnn/inference.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn {

class GraphPlan {
 public:
  // Each returns the slot the step writes. Inputs must be slots already written (0 or earlier
  // steps' outputs). The chain is copied (it holds the model's weight tensors by reference).
  int add_chain(int input, const InferencePlan& chain);
  // activation: '' / 'linear', 'relu' (fused), 'sigmoid', 'tanh' or 'softmax' (over dim 1).
  int add_sum(const std::vector<int>& inputs, const std::string& activation);
  int add_concat(const std::vector<int>& inputs, int64_t dim);
  // The slot run() returns; also fixes when each slot is released.
  void set_output(int slot);

  // The forward pass of x (no graph is recorded). Bad shapes raise ValueError like the ops do.
  // A large batch runs in chunks of images, on all threads (src/plan_chunks.h): the same floats.
  Tensor run(const Tensor& x) const;
  size_t size() const { return steps_.size(); }

 private:
  enum class Kind { chain, sum, concat };
  struct Step {
    Kind kind;
    std::vector<int> inputs;
    InferencePlan chain;
    std::string activation;    // sum
    int64_t dim = 1;           // concat
    std::vector<int> release;  // slots whose last reader this step is (set_output fills it)
  };
  int add_step(Step s);
  Tensor run_whole(const Tensor& x) const;  // every step on all of x
  Tensor run_sum(const Step& s, std::vector<Tensor>& values, const Tensor& x) const;
  std::vector<Step> steps_;
  int output_ = -1;
};

}  // namespace pocketcnn
