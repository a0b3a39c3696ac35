// sum_to_shape_backward (the gradient of sum / mean over dims) against the reference it replaces,
// broadcast_to then a multiplication by the scale, bit for bit under every ISA and thread count:
// the threaded trailing-rows path (the global average pool's gradient) and the index walk.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/pointwise/broadcast.h"
#include "kernels/pointwise/elementwise_loops.h"
#include "kernels/pointwise/reduce.h"

using namespace pocketcnn;
using namespace pocketcnn::kernels;
using pocketcnn::testing::random_vector;

namespace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::vector<float> reference(const Shape& x_shape, const Shape& y_shape,
                             const std::vector<float>& dy, float scale) {
  std::vector<float> dx(numel(x_shape));
  broadcast_to(x_shape, broadcast_strides(y_shape, x_shape), dy.data(), dx.data());
  if (scale != 1.0f) scalar_forward(ScalarOp::Mul, numel(x_shape), dx.data(), scale, dx.data());
  return dx;
}

class ReduceBackward : public pocketcnn::testing::IsaThreadsTest {};

TEST_P(ReduceBackward, MatchesBroadcastThenScale) {
  // Trailing dims summed (mean over H, W: big enough to thread, odd planes, 1-pixel planes), a
  // middle dim, leading dims, everything, nothing.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{64, 64, 7, 7}, {64, 64, 1, 1}},
      {{3, 5, 1, 1}, {3, 5, 1, 1}},
      {{2, 3, 5, 7}, {2, 3, 1, 1}},
      {{2, 3, 5}, {2, 1, 5}},
      {{4, 6}, {6}},
      {{33, 17}, {}},
      {{0, 3, 2, 2}, {0, 3, 1, 1}},
      {{129, 1, 9}, {129, 1, 1}},
  };
  for (const auto& [xs, ys] : cases) {
    const std::vector<float> dy = random_vector(numel(ys), 7);
    for (float scale : {1.0f, 1.0f / 49.0f, 1.0f / 3.0f}) {
      const std::vector<float> want = reference(xs, ys, dy, scale);
      std::vector<float> got(numel(xs), -1.0f);
      sum_to_shape_backward(xs, ys, dy.data(), scale, got.data());
      // Bitwise; an empty x has no data() to compare (memcmp of null is undefined).
      ASSERT_TRUE(want.empty() ||
                  std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0)
          << "x " << xs.size() << "-d, " << numel(xs) << " elements, scale " << scale;
    }
  }
}

POCKETCNN_INSTANTIATE_ISA_THREADS(ReduceBackward);

}  // namespace
