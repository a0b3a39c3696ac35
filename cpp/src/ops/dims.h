// Dimension arguments shared by the ops that take them (softmax, sum, mean): negative dims count
// from the end, and a bad one is a ValueError naming the op, the dim and the shape.
#pragma once

#include <cstdint>
#include <vector>

#include "pocketcnn/error.h"
#include "pocketcnn/tensor.h"

namespace pocketcnn::detail {

// dim in [-ndim, ndim) -> [0, ndim).
inline int64_t normalize_dim(const char* op, int64_t dim, const Shape& shape) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  PCNN_CHECK(dim >= -nd && dim < nd, op, ": dim ", dim, " is out of range for a ", nd,
             "-D tensor of shape ", shape_str(shape),
             (nd ? str_cat(" (valid: ", -nd, " to ", nd - 1, ")") : std::string()));
  return dim < 0 ? dim + nd : dim;
}

// A mask over the dims of `shape`: true where a dim in `dims` (normalized) is; each dim at most
// once.
inline std::vector<bool> dims_mask(const char* op, const std::vector<int64_t>& dims,
                                   const Shape& shape) {
  std::vector<bool> mask(shape.size(), false);
  for (int64_t d : dims) {
    const int64_t k = normalize_dim(op, d, shape);
    PCNN_CHECK(!mask[static_cast<size_t>(k)], op, ": dim ", d, " appears more than once (shape ",
               shape_str(shape), ")");
    mask[static_cast<size_t>(k)] = true;
  }
  return mask;
}

}  // namespace pocketcnn::detail
