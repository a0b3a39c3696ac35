// concat: tensors joined along one dimension (Keras' Concatenate over the channels); the gradient
// is the output gradient split back. Pure data movement (one memcpy per block), so the loop is
// both the reference and the kernel; the Python tests check it against numpy's concatenate.
#include <cstring>
#include <vector>

#include "ops/dims.h"
#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

// Copies between the parts and the joined tensor: `outer` blocks, part i contributing
// widths[i] floats to each block of `total` floats.
void copy_blocks(int64_t outer, const std::vector<int64_t>& widths, int64_t total,
                 const std::vector<float*>& parts, float* joined, bool into_joined) {
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offset = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      float* a = joined + o * total + offset;
      float* b = parts[i] + o * widths[i];
      const size_t bytes = static_cast<size_t>(widths[i]) * sizeof(float);
      if (bytes) std::memcpy(into_joined ? a : b, into_joined ? b : a, bytes);
      offset += widths[i];
    }
  }
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  PCNN_CHECK(!xs.empty(), "concat: needs at least one tensor");
  for (size_t i = 0; i < xs.size(); ++i) {
    PCNN_CHECK_TYPE(xs[i].defined(), "concat: input ", i, " is None");
  }
  const Shape& first = xs[0].shape();
  const int64_t k = detail::normalize_dim("concat", dim, first);
  Shape out = first;
  out[k] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    bool same = s.size() == first.size();
    for (size_t d = 0; same && d < s.size(); ++d)
      same = d == static_cast<size_t>(k) || s[d] == first[d];
    PCNN_CHECK(same, "concat: input ", i, " has shape ", shape_str(s), ", input 0 has ",
               shape_str(first), "; all dims but dim ", dim, " must agree");
    out[k] += s[k];
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < k; ++d) outer *= first[d];
  for (size_t d = static_cast<size_t>(k) + 1; d < first.size(); ++d) inner *= first[d];
  std::vector<int64_t> widths;
  std::vector<float*> parts;
  for (const Tensor& x : xs) {
    widths.push_back(x.shape()[k] * inner);
    parts.push_back(x.data());
  }
  Tensor y = Tensor::empty(out);
  const int64_t total = out[k] * inner;
  copy_blocks(outer, widths, total, parts, y.data(), true);
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) shapes.push_back(x.shape());
  return record("concat", y, xs,
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  std::vector<Tensor> grads;
                  std::vector<float*> outs;
                  for (const Shape& s : shapes) {
                    grads.push_back(Tensor::empty(s));
                    outs.push_back(grads.back().data());
                  }
                  copy_blocks(outer, widths, total, outs, dy.data(), false);
                  return grads;
                });
}

}  // namespace pocketcnn
