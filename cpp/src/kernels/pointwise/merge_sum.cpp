#include "kernels/pointwise/merge_sum.h"

#include "kernels/runtime/parallel.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

namespace {

// Two inputs (every residual block): one fused loop the compiler vectorises (no aliasing
// assumptions needed: y[i] depends only on a[i], b[i]).
void sum2_range(const float* a, const float* b, int64_t begin, int64_t end, bool relu, float* y) {
  if (relu) {
    for (int64_t i = begin; i < end; ++i) {
      const float v = a[i] + b[i];
      y[i] = v < 0.0f ? 0.0f : v;
    }
  } else {
    for (int64_t i = begin; i < end; ++i) y[i] = a[i] + b[i];
  }
}

// More inputs: accumulate a cache-sized block in a local buffer input by input (the same
// left-to-right order per element as the reference), then write it to y, so y may be any input.
void sumk_range(int64_t n_inputs, const float* const* xs, int64_t begin, int64_t end, bool relu,
                float* y) {
  constexpr int64_t kBlock = 1024;
  float acc[kBlock];
  for (int64_t b = begin; b < end; b += kBlock) {
    const int64_t len = b + kBlock < end ? kBlock : end - b;
    sum2_range(xs[0] + b, xs[1] + b, 0, len, false, acc);
    for (int64_t k = 2; k < n_inputs; ++k) {
      const float* x = xs[k] + b;
      for (int64_t i = 0; i < len; ++i) acc[i] = acc[i] + x[i];
    }
    for (int64_t i = 0; i < len; ++i) y[b + i] = relu && acc[i] < 0.0f ? 0.0f : acc[i];
  }
}

}  // namespace

void merge_sum(int64_t n_inputs, const float* const* xs, int64_t n, bool relu, float* y) {
  if (n_inputs < 2) {  // one input: a copy (or the ReLU of it)
    merge_sum_ref(n_inputs, xs, n, relu, y);
    return;
  }
  const double bytes = static_cast<double>(n) * sizeof(float) * static_cast<double>(n_inputs + 1);
  const int nt = threads_for_bytes(n, bytes, get_num_threads());
  parallel_for(n, nt, [&](int64_t begin, int64_t end) {
    if (n_inputs == 2) {
      sum2_range(xs[0], xs[1], begin, end, relu, y);
    } else {
      sumk_range(n_inputs, xs, begin, end, relu, y);
    }
  });
}

}  // namespace pocketcnn::kernels
