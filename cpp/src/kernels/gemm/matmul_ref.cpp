#include "kernels/gemm/matmul.h"

namespace pocketcnn::kernels {

void matmul_ref(int64_t n, int64_t k, int64_t m, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p) acc += a[i * k + p] * b[p * m + j];
      y[i * m + j] = acc;
    }
  }
}

void matmul_grad_a_ref(int64_t n, int64_t k, int64_t m, const float* dy, const float* b,
                       float* da) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p = 0; p < k; ++p) {
      float acc = 0.0f;
      for (int64_t j = 0; j < m; ++j) acc += dy[i * m + j] * b[p * m + j];
      da[i * k + p] = acc;
    }
  }
}

void matmul_grad_b_ref(int64_t n, int64_t k, int64_t m, const float* a, const float* dy,
                       float* db) {
  for (int64_t p = 0; p < k; ++p) {
    for (int64_t j = 0; j < m; ++j) {
      float acc = 0.0f;
      for (int64_t i = 0; i < n; ++i) acc += a[i * k + p] * dy[i * m + j];
      db[p * m + j] = acc;
    }
  }
}

}  // namespace pocketcnn::kernels
