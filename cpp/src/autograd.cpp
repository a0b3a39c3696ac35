#include "pocketcnn/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "kernels/pointwise/merge_sum.h"
#include "pocketcnn/error.h"
#include "tensor_ownership.h"

namespace pocketcnn {

namespace {
thread_local bool t_grad_enabled = true;

// dst += src, elementwise; shapes are equal. merge_sum is the vectorised (and, when the traffic
// pays, threaded) sum; float addition is commutative, so dst + src equals the old scalar loop.
void accumulate(float* dst, const float* src, int64_t n) {
  const float* xs[2] = {dst, src};
  kernels::merge_sum(2, xs, n, /*relu=*/false, dst);
}

// Nodes reachable from `root`, ordered so that every node comes before the nodes of its inputs.
// Owning pointers: releasing one node's inputs must not destroy a node still to be visited.
std::vector<std::shared_ptr<Node>> reverse_topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post_order;
  std::unordered_set<Node*> visited{root.get()};
  // Iterative DFS: deep graphs (long chains of small ops) must not overflow the C++ stack.
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    Node* node = stack.back().first.get();
    size_t& next_input = stack.back().second;
    if (next_input < node->inputs.size()) {
      const std::shared_ptr<Node>& producer = node->inputs[next_input++].producer;
      if (producer && visited.insert(producer.get()).second) stack.emplace_back(producer, 0);
    } else {
      post_order.push_back(std::move(stack.back().first));
      stack.pop_back();
    }
  }
  return {post_order.rbegin(), post_order.rend()};
}

// For run_backward's on_grad_ready: how many edges of the graph still send a gradient to each
// watched leaf; a leaf is reported when its count reaches zero.
class GradReadyTracker {
 public:
  GradReadyTracker(const std::vector<std::shared_ptr<Node>>& order,
                   const std::vector<Tensor>& watched, const GradReadyFn& on_ready)
      : on_ready_(on_ready) {
    if (!on_ready_) return;
    for (size_t i = 0; i < watched.size(); ++i) {
      if (watched[i].defined()) index_.emplace(watched[i].impl(), i);  // first position wins
    }
    for (const std::shared_ptr<Node>& node : order) {
      for (size_t i = 0; i < node->inputs.size(); ++i) {
        if (node->needs_grad[i] && !node->inputs[i].producer) {
          if (auto found = index_.find(node->inputs[i].leaf.impl()); found != index_.end()) {
            ++remaining_[found->second];
          }
        }
      }
    }
  }

  // After `node` (still holding its edges) sent its gradients: report the leaves now final.
  void node_done(const Node& node) {
    if (!on_ready_) return;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!node.needs_grad[i] || node.inputs[i].producer) continue;
      auto found = index_.find(node.inputs[i].leaf.impl());
      if (found != index_.end() && --remaining_[found->second] == 0) on_ready_(found->second);
    }
  }

 private:
  const GradReadyFn& on_ready_;
  std::unordered_map<const TensorImpl*, size_t> index_;  // watched leaf -> its position
  std::unordered_map<size_t, int64_t> remaining_;        // position -> edges still to run
};

void accumulate_leaf_grad(const Tensor& leaf, const Tensor& g) {
  Tensor existing = leaf.grad();
  if (!existing.defined()) {
    // A gradient nothing else can reach (the usual dw/db a backward just allocated) is adopted;
    // otherwise cloned, as g may alias a saved or user tensor. The copy was ~1% of a lecture-net
    // training step, all of it on the calling thread.
    const_cast<Tensor&>(leaf).set_grad(owns_data_alone(g) ? g : g.clone());
  } else {
    accumulate(existing.data(), g.data(), g.numel());
  }
}
}  // namespace

void Node::release() {
  backward = nullptr;
  inputs.clear();
  released = true;
}

Node::~Node() {
  // Destroying a long chain recursively (node -> producer node -> ...) would overflow the stack,
  // so nodes that would die with this one are taken over and destroyed in a loop.
  std::vector<std::shared_ptr<Node>> dying;
  auto take_inputs = [&dying](std::vector<Edge>& inputs) {
    for (Edge& e : inputs) {
      if (e.producer && e.producer.use_count() == 1) dying.push_back(std::move(e.producer));
    }
    inputs.clear();
  };
  take_inputs(inputs);
  while (!dying.empty()) {
    std::shared_ptr<Node> node = std::move(dying.back());
    dying.pop_back();
    take_inputs(node->inputs);
  }
}

bool grad_enabled() {
  return t_grad_enabled;
}
void set_grad_enabled(bool enabled) {
  t_grad_enabled = enabled;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

Tensor record(const char* name, const Tensor& output, const std::vector<Tensor>& inputs,
              BackwardFn backward) {
  if (!any_requires_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs.resize(inputs.size());
  node->needs_grad.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    const bool needs = t.defined() && t.requires_grad();
    node->needs_grad.push_back(needs);
    if (!needs) continue;
    Edge& e = node->inputs[i];
    e.shape = t.shape();
    if (t.grad_fn()) {
      e.producer = t.grad_fn();
    } else {
      e.leaf = t;
    }
  }
  node->backward = std::move(backward);
  node->output_shape = output.shape();
  Tensor out = output;
  out.set_grad_fn(std::move(node));
  out.impl()->requires_grad = true;
  return out;
}

void run_backward(const Tensor& root, const Tensor& grad_in, bool retain_graph,
                  const std::vector<Tensor>& watched, const GradReadyFn& on_grad_ready) {
  PCNN_CHECK_TYPE(root.defined(), "backward() on an undefined tensor");
  if (!root.requires_grad()) {
    throw StateError(
        "backward(): this tensor does not require grad and has no grad_fn (did you create the "
        "inputs with requires_grad=True, or compute it under no_grad?)");
  }
  Tensor grad = grad_in;
  if (!grad.defined()) {
    PCNN_CHECK(root.numel() == 1,
               "backward(): grad can be implicitly created only for a one-element tensor, got "
               "shape ",
               shape_str(root.shape()), "; pass grad= explicitly");
    grad = Tensor::full(root.shape(), 1.0f);
  } else {
    PCNN_CHECK(grad.shape() == root.shape(), "backward(): grad has shape ", shape_str(grad.shape()),
               " but the tensor has shape ", shape_str(root.shape()));
  }
  if (root.is_leaf()) {
    accumulate_leaf_grad(root, grad);
    if (on_grad_ready) {
      for (size_t i = 0; i < watched.size(); ++i) {
        if (watched[i].defined() && watched[i].impl() == root.impl()) {
          on_grad_ready(i);
          break;
        }
      }
    }
    return;
  }
  const std::shared_ptr<Node>& root_node = root.grad_fn();
  if (root_node->released) {
    throw StateError(
        "backward(): trying to backward through the graph a second time; its saved tensors were "
        "freed after the first backward (pass retain_graph=True the first time)");
  }

  std::vector<std::shared_ptr<Node>> order = reverse_topological_order(root_node);
  GradReadyTracker ready(order, watched, on_grad_ready);
  std::unordered_map<Node*, Tensor> pending;  // summed gradient of each node's output
  pending[root_node.get()] = grad;
  for (const std::shared_ptr<Node>& node : order) {
    auto it = pending.find(node.get());
    if (it == pending.end()) continue;  // nothing flows here (cannot happen in a connected graph)
    Tensor g = it->second;
    pending.erase(it);
    if (node->released) {
      throw StateError(str_cat("backward(): node ", node->name,
                               " was already freed by an earlier backward (retain_graph=False)"));
    }
    std::vector<Tensor> input_grads = node->backward(g, node->needs_grad);
    if (input_grads.size() != node->inputs.size()) {
      throw StateError(str_cat("internal error: ", node->name, " backward returned ",
                               input_grads.size(), " gradients for ", node->inputs.size(),
                               " inputs"));
    }
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      if (!node->needs_grad[i]) continue;
      const Edge& in = node->inputs[i];
      const Tensor& gi = input_grads[i];
      if (!gi.defined()) continue;
      if (gi.shape() != in.shape) {
        throw StateError(str_cat("internal error: ", node->name, " gradient for input ", i,
                                 " has shape ", shape_str(gi.shape()), ", input has shape ",
                                 shape_str(in.shape)));
      }
      if (in.producer) {
        Node* producer = in.producer.get();
        auto found = pending.find(producer);
        if (found == pending.end()) {
          pending.emplace(producer, gi);
        } else {
          // A tensor used more than once (the residual input): sum its gradients. Add in place
          // into whichever of the two owns its memory alone; clone only when both may alias
          // memory someone else owns (a saved tensor, or a gradient passed through twice).
          Tensor& stored = found->second;
          if (owns_data_alone(stored)) {
            accumulate(stored.data(), gi.data(), gi.numel());
          } else if (owns_data_alone(gi)) {
            Tensor sum = gi;
            accumulate(sum.data(), stored.data(), stored.numel());
            stored = std::move(sum);
          } else {
            Tensor sum = stored.clone();
            accumulate(sum.data(), gi.data(), gi.numel());
            stored = std::move(sum);
          }
        }
      } else {
        accumulate_leaf_grad(in.leaf, gi);
      }
    }
    ready.node_done(*node);
    if (!retain_graph) node->release();
  }
}

}  // namespace pocketcnn
