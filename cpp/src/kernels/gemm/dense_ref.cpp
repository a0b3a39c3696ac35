#include "kernels/gemm/dense_ref.h"

namespace pocketcnn::kernels {

void linear_forward_ref(int64_t N, int64_t in, int64_t out, const float* x, const float* w,
                        const float* b, float* y) {
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < out; ++o) {
      float acc = b ? b[o] : 0.0f;
      for (int64_t i = 0; i < in; ++i) acc += x[n * in + i] * w[o * in + i];
      y[n * out + o] = acc;
    }
  }
}

void linear_backward_input_ref(int64_t N, int64_t in, int64_t out, const float* dy, const float* w,
                               float* dx) {
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t i = 0; i < in; ++i) dx[n * in + i] = 0.0f;
    for (int64_t o = 0; o < out; ++o) {
      const float g = dy[n * out + o];
      for (int64_t i = 0; i < in; ++i) dx[n * in + i] += g * w[o * in + i];
    }
  }
}

void linear_backward_weight_ref(int64_t N, int64_t in, int64_t out, const float* x, const float* dy,
                                float* dw, float* db) {
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) dw[o * in + i] = 0.0f;
    if (db) db[o] = 0.0f;
  }
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < out; ++o) {
      const float g = dy[n * out + o];
      if (db) db[o] += g;
      for (int64_t i = 0; i < in; ++i) dw[o * in + i] += g * x[n * in + i];
    }
  }
}

}  // namespace pocketcnn::kernels
