// The autograd tape: every differentiable op that sees an input requiring grad records a Node
// holding its inputs' edges and a closure that maps the output's gradient to the inputs' gradients.
// Tensor::backward() walks the nodes in reverse topological order, sums gradients of tensors used
// more than once, accumulates into leaves' .grad, and frees each node's saved tensors as it goes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pocketcnn/tensor.h"

namespace pocketcnn {

// Maps the gradient of the node's output to one gradient per input, in input order. An entry may
// be left undefined when needs_grad[i] is false (skip that work). A closure must never capture the
// op's output tensor itself (that would be a reference cycle through grad_fn), and should capture
// only detach()ed tensors: save `t.detach()`. The node does not keep its inputs' data alive (only
// their edges), so a closure captures exactly what its backward reads, and an input nothing else
// holds is freed as soon as the forward pass drops it.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output,
                                                     const std::vector<bool>& needs_grad)>;

// Where the gradient of one input goes: the node that produced the input, or the leaf tensor itself
// (whose .grad accumulates it); neither when the input needs no gradient.
struct Edge {
  std::shared_ptr<Node> producer;  // a non-leaf input's grad_fn
  Tensor leaf;                     // a leaf input that requires grad
  Shape shape;                     // the input's shape, to check its gradient
};

struct Node {
  std::string name;              // op name, for error messages and debugging
  std::vector<Edge> inputs;      // edges of the graph, one per input
  std::vector<bool> needs_grad;  // needs_grad[i]: inputs[i] requires a gradient
  BackwardFn backward;           // captures what the op saved for backward
  Shape output_shape;            // to check gradient shapes
  bool released = false;         // set once backward has run (without retain_graph)

  // Drops the saved tensors and edges so the graph's memory is freed right after backward.
  void release();
  ~Node();
};

// Gradient mode is per thread, like PyTorch's.
bool grad_enabled();
void set_grad_enabled(bool enabled);

// RAII guard: records nothing in its scope.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any defined input requires grad: the op must record a node.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records `output` as produced by an op from `inputs` if any_requires_grad(inputs); otherwise does
// nothing. Returns `output` for convenience. The closure receives dL/d(output) with output's shape
// and must return dL/d(input) (input's shape) for each input i with needs_grad[i].
Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs,
              BackwardFn backward);

// Called during run_backward with the position in `watched` of a leaf whose .grad has just become
// final for this backward (every node of the graph that sends it a gradient has run), so that
// work on it (a data-parallel allreduce) can start while the backward of earlier layers goes on.
using GradReadyFn = std::function<void(size_t watched_index)>;

// Runs backward from `root` with the given gradient (see Tensor::backward). With `on_grad_ready`,
// it is called once for each leaf of `watched` the graph reaches, as soon as that leaf's gradient
// is final; watched leaves the graph does not reach are not reported.
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph,
                  const std::vector<Tensor>& watched = {},
                  const GradReadyFn& on_grad_ready = nullptr);

}  // namespace pocketcnn
