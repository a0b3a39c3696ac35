#include "pocketcnn/inference_graph.h"

#include <algorithm>

#include "kernels/pointwise/merge_sum.h"
#include "plan_chunks.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

std::string checked_activation(const std::string& name) {
  const std::string a = name == "linear" ? "" : name;
  PCNN_CHECK(a.empty() || a == "relu" || a == "sigmoid" || a == "tanh" || a == "softmax",
             "GraphPlan: unknown activation '", name,
             "' (use '', 'linear', 'relu', 'sigmoid', 'tanh' or 'softmax')");
  return a;
}

bool overlaps(const Tensor& a, const Tensor& b) {
  const float *a0 = a.data(), *a1 = a0 + a.numel(), *b0 = b.data(), *b1 = b0 + b.numel();
  return a0 < b1 && b0 < a1;
}

// Whether the step may write its result into `t`: nothing else holds the tensor or its memory
// (not a view, not the caller's input or a view of it, not a model weight) and the step is its
// last reader.
bool writable(const Tensor& t, const Tensor& input, bool last_reader) {
  return last_reader && t.impl_ptr().use_count() == 1 && t.impl()->data.use_count() == 1 &&
         !overlaps(t, input);
}

}  // namespace

int GraphPlan::add_step(Step s) {
  const int written = static_cast<int>(steps_.size()) + 1;  // slots 0 .. steps_.size() exist
  PCNN_CHECK(!s.inputs.empty(), "GraphPlan: a step needs at least one input");
  for (int in : s.inputs) {
    PCNN_CHECK(in >= 0 && in < written, "GraphPlan: input slot ", in,
               " is not written yet (slots 0..", written - 1, " exist)");
  }
  steps_.push_back(std::move(s));
  output_ = -1;  // set_output again: the releases depend on every step
  return written;
}

int GraphPlan::add_chain(int input, const InferencePlan& chain) {
  Step s{Kind::chain, {input}, chain, "", 1, {}};
  return add_step(std::move(s));
}

int GraphPlan::add_sum(const std::vector<int>& inputs, const std::string& activation) {
  Step s{Kind::sum, inputs, {}, checked_activation(activation), 1, {}};
  return add_step(std::move(s));
}

int GraphPlan::add_concat(const std::vector<int>& inputs, int64_t dim) {
  Step s{Kind::concat, inputs, {}, "", dim, {}};
  return add_step(std::move(s));
}

void GraphPlan::set_output(int slot) {
  const int slots = static_cast<int>(steps_.size()) + 1;
  PCNN_CHECK(slot >= 0 && slot < slots, "GraphPlan.set_output: slot ", slot,
             " does not exist (slots 0..", slots - 1, ")");
  std::vector<int> last_reader(slots, -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int in : steps_[i].inputs) last_reader[in] = static_cast<int>(i);
  }
  for (Step& s : steps_) s.release.clear();
  for (int v = 0; v < slots; ++v) {
    if (v != slot && last_reader[v] >= 0) steps_[last_reader[v]].release.push_back(v);
  }
  output_ = slot;
}

Tensor GraphPlan::run_sum(const Step& s, std::vector<Tensor>& values, const Tensor& x) const {
  const Tensor& first = values[s.inputs[0]];
  std::vector<const float*> ptrs;
  for (size_t k = 0; k < s.inputs.size(); ++k) {
    const Tensor& t = values[s.inputs[k]];
    PCNN_CHECK(t.shape() == first.shape(), "Add: input ", k, " has shape ", shape_str(t.shape()),
               ", input 0 has ", shape_str(first.shape()), "; Add needs inputs of one shape");
    ptrs.push_back(t.data());
  }
  Tensor y;
  for (int in : s.inputs) {
    const bool last = std::find(s.release.begin(), s.release.end(), in) != s.release.end();
    if (writable(values[in], x, last)) {
      y = values[in];
      break;
    }
  }
  if (!y.defined()) y = Tensor::empty(first.shape());
  const bool relu = s.activation == "relu";
  kernels::merge_sum(static_cast<int64_t>(ptrs.size()), ptrs.data(), y.numel(), relu, y.data());
  if (s.activation.empty() || relu) return y;
  if (s.activation == "sigmoid") return sigmoid(y);
  if (s.activation == "tanh") return tanh(y);
  return softmax(y, 1);
}

Tensor GraphPlan::run(const Tensor& x) const {
  PCNN_CHECK_TYPE(x.defined(), "GraphPlan.run: input is None");
  PCNN_CHECK(output_ >= 0, "GraphPlan.run: no output slot (call set_output after the steps)");
  // In chunks of images (plan_chunks.h) unless a concat joins along the batch axis, where the
  // images are not independent (a negative dim may name it too: then not either).
  const bool per_image = std::all_of(steps_.begin(), steps_.end(), [](const Step& s) {
    return s.kind != Kind::concat || s.dim > 0;
  });
  if (per_image && x.ndim() >= 1 && detail::runs_in_chunks(x.dim(0))) {
    return detail::run_in_chunks(x, [&](const Tensor& c) { return run_whole(c); });
  }
  return run_whole(x);
}

Tensor GraphPlan::run_whole(const Tensor& x) const {
  NoGradGuard no_grad;
  std::vector<Tensor> values(steps_.size() + 1);
  values[0] = x;
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    Tensor y;
    if (s.kind == Kind::chain) {
      y = s.chain.run(values[s.inputs[0]]);
    } else if (s.kind == Kind::sum) {
      y = run_sum(s, values, x);
    } else {
      std::vector<Tensor> xs;
      for (int in : s.inputs) xs.push_back(values[in]);
      y = concat(xs, s.dim);
    }
    values[i + 1] = y;
    for (int r : s.release) values[r] = Tensor();
  }
  Tensor out = values[output_];
  // A graph of identity steps would hand back the caller's own memory: return a copy instead.
  return overlaps(out, x) ? out.clone() : out;
}

}  // namespace pocketcnn
