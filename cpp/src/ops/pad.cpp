// zero_pad2d (Keras' ZeroPadding2D): a copy of each input row into the middle of a zeroed output,
// and for the gradient the reverse copy. Pure data movement (memcpy per row), so the one loop is
// both the reference and the kernel; the Python tests check it against numpy's np.pad.
#include <cstring>
#include <limits>
#include <vector>

#include "pocketcnn/autograd.h"
#include "pocketcnn/error.h"
#include "pocketcnn/ops.h"

namespace pocketcnn {

namespace {

constexpr int64_t kMaxPad = std::numeric_limits<int32_t>::max();

// Copies the (H, W) planes of src into dst planes of (H + top + bottom, W + left + right) at
// (top, left) when `into_padded`, else the reverse (the padded plane's middle into src's shape).
void copy_planes(int64_t planes, int64_t H, int64_t W, int64_t top, int64_t left, int64_t Wp,
                 int64_t Hp, float* padded, float* plain, bool into_padded) {
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t h = 0; h < H; ++h) {
      float* row = padded + (p * Hp + top + h) * Wp + left;
      float* src = plain + (p * H + h) * W;
      if (into_padded) {
        std::memcpy(row, src, static_cast<size_t>(W) * sizeof(float));
      } else {
        std::memcpy(src, row, static_cast<size_t>(W) * sizeof(float));
      }
    }
  }
}

}  // namespace

Tensor zero_pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  PCNN_CHECK_TYPE(x.defined(), "zero_pad2d: input is None");
  PCNN_CHECK(x.ndim() == 4, "zero_pad2d: input must be 4-D (N, C, H, W), got shape ",
             shape_str(x.shape()));
  PCNN_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0 && top <= kMaxPad &&
                 bottom <= kMaxPad && left <= kMaxPad && right <= kMaxPad,
             "zero_pad2d: padding (top, bottom, left, right) = (", top, ", ", bottom, ", ", left,
             ", ", right, ") must be between 0 and ", kMaxPad, " (input shape ",
             shape_str(x.shape()), ")");
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t Hp = H + top + bottom, Wp = W + left + right;
  Tensor y = Tensor::zeros({N, C, Hp, Wp});  // shape_numel checks for overflow
  copy_planes(N * C, H, W, top, left, Wp, Hp, y.data(), x.data(), true);
  const Shape in_shape = x.shape();
  return record("zero_pad2d", y, {x},
                [=](const Tensor& dy, const std::vector<bool>&) -> std::vector<Tensor> {
                  Tensor dx = Tensor::empty(in_shape);
                  copy_planes(N * C, H, W, top, left, Wp, Hp, dy.data(), dx.data(), false);
                  return {dx};
                });
}

}  // namespace pocketcnn
