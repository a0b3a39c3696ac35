#include "kernels/gemm/gemm.h"

namespace pocketcnn::kernels {

void gemm_nn_ref(const GemmNN& g) {
  for (int64_t i = 0; i < g.M; ++i) {
    for (int64_t n = 0; n < g.N; ++n) {
      double acc = g.accumulate ? g.C[i * g.ldc + n] : 0.0;
      for (int64_t j = 0; j < g.J; ++j) {
        const float* brow = g.B + (g.boff ? g.boff[j] : j * g.ldb);
        acc += static_cast<double>(g.A[i * g.a_rs + j * g.a_cs]) * brow[n];
      }
      g.C[i * g.ldc + n] = static_cast<float>(acc);
    }
  }
}

void gemm_nt_ref(const GemmNT& g) {
  for (int64_t i = 0; i < g.M; ++i) {
    for (int64_t j = 0; j < g.N; ++j) {
      const float* brow = g.B + (g.boff ? g.boff[j] : j * g.ldb);
      double acc = g.accumulate ? g.C[i * g.ldc + j] : 0.0;
      for (int64_t l = 0; l < g.L; ++l) acc += static_cast<double>(g.A[i * g.lda + l]) * brow[l];
      g.C[i * g.ldc + j] = static_cast<float>(acc);
    }
  }
}

}  // namespace pocketcnn::kernels
