// numpy broadcasting for the reference kernels: the broadcast shape of two shapes, the element
// strides of an operand inside the broadcast result (0 along broadcast dims), and a C-order walk
// over a shape that keeps the offsets of up to two strided operands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pocketcnn::kernels {

// numpy's rule: shapes are right-aligned; a missing dim counts as 1; dims must be equal or one of
// them 1. Writes the result to *out and returns true, or returns false if incompatible.
inline bool broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                            std::vector<int64_t>* out) {
  const size_t nd = a.size() > b.size() ? a.size() : b.size();
  std::vector<int64_t> result(nd);
  for (size_t i = 0; i < nd; ++i) {  // i counts from the right
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da == db || db == 1) {
      result[nd - 1 - i] = da;
    } else if (da == 1) {
      result[nd - 1 - i] = db;
    } else {
      return false;
    }
  }
  *out = result;
  return true;
}

// Element strides of a C-contiguous array of shape `in` read as if broadcast to `out` (`in` is
// right-aligned with `out` and each of its dims is 1 or equal to out's): 0 along dims where `in`
// is 1 or missing, so the same element is reused. Needs in.size() <= out.size().
inline std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in,
                                              const std::vector<int64_t>& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - in.size();
  int64_t stride = 1;
  for (size_t d = in.size(); d-- > 0;) {
    strides[offset + d] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  return strides;
}

// Calls f(i, offset_a, offset_b) for every element i of `shape` in C order, where offset_a and
// offset_b are the element offsets given by the strides sa and sb (one per dim of `shape`).
// An odometer: the last index runs fastest, and a carry rewinds that dim's contribution.
template <typename F>
void for_each_index(const std::vector<int64_t>& shape, const std::vector<int64_t>& sa,
                    const std::vector<int64_t>& sb, F&& f) {
  const size_t nd = shape.size();
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n == 0) return;
  std::vector<int64_t> index(nd, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (size_t d = nd; d-- > 0;) {
      if (++index[d] < shape[d]) {
        oa += sa[d];
        ob += sb[d];
        break;
      }
      oa -= sa[d] * (shape[d] - 1);
      ob -= sb[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace pocketcnn::kernels
