// The dense layer as GEMMs: forward is a dot-product GEMM (gemm_nt: x and w are both contiguous
// along the features), the two gradients are broadcast GEMMs (gemm_nn) reading dy transposed in
// place. No operand is copied or transposed.
#include "kernels/gemm/dense.h"

#include <cstring>

#include "kernels/gemm/gemm.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

void linear_forward(int64_t N, int64_t in, int64_t out, const float* x, const float* w,
                    const float* b, float* y) {
  if (N == 0 || out == 0) return;
  // y starts as the bias, and the GEMM accumulates onto it: the bias costs no extra pass.
  for (int64_t n = 0; n < N; ++n) {
    if (b) {
      std::memcpy(y + n * out, b, out * sizeof(float));
    } else {
      std::memset(y + n * out, 0, out * sizeof(float));
    }
  }
  GemmNT g;
  g.M = N, g.N = out, g.L = in, g.A = x, g.lda = in, g.B = w, g.ldb = in, g.C = y, g.ldc = out;
  g.accumulate = true;
  gemm_nt(g, get_num_threads());
}

void linear_backward_input(int64_t N, int64_t in, int64_t out, const float* dy, const float* w,
                           float* dx) {
  GemmNN g;
  g.M = N, g.N = in, g.J = out, g.A = dy, g.a_rs = out, g.a_cs = 1, g.B = w, g.ldb = in, g.C = dx,
  g.ldc = in;
  gemm_nn(g, get_num_threads());
}

void linear_backward_weight(int64_t N, int64_t in, int64_t out, const float* x, const float* dy,
                            float* dw, float* db) {
  GemmNN g;
  g.M = out, g.N = in, g.J = N, g.A = dy, g.a_rs = 1, g.a_cs = out, g.B = x, g.ldb = in, g.C = dw,
  g.ldc = in;
  gemm_nn(g, get_num_threads());
  if (db) {
    for (int64_t o = 0; o < out; ++o) db[o] = 0.0f;
    for (int64_t n = 0; n < N; ++n) {
      const float* d = dy + n * out;
      for (int64_t o = 0; o < out; ++o) db[o] += d[o];
    }
  }
}

}  // namespace pocketcnn::kernels
