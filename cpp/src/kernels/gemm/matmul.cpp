// matmul and its gradients on the GEMM kernels. No operand is copied: a^T in the gradient of b is
// read in place through GemmNN's row/column strides, and dy @ b^T is a dot-product GEMM (NT). An
// empty reduction (k = 0 forward, m = 0 for da, n = 0 for db) gives zeros without calling a GEMM.
#include "kernels/gemm/matmul.h"

#include <algorithm>

#include "kernels/gemm/gemm.h"
#include "pocketcnn/cpu.h"

namespace pocketcnn::kernels {

namespace {

// True when the GEMM has nothing to do; an output with an empty reduction is zeroed here.
bool trivial(int64_t rows, int64_t cols, int64_t reduction, float* out) {
  if (rows == 0 || cols == 0) return true;
  if (reduction > 0) return false;
  std::fill(out, out + rows * cols, 0.0f);
  return true;
}

}  // namespace

void matmul(int64_t n, int64_t k, int64_t m, const float* a, const float* b, float* y) {
  if (trivial(n, m, k, y)) return;
  GemmNN g;
  g.M = n, g.N = m, g.J = k, g.A = a, g.a_rs = k, g.a_cs = 1, g.B = b, g.ldb = m, g.C = y;
  g.ldc = m;
  gemm_nn(g, get_num_threads());
}

void matmul_grad_a(int64_t n, int64_t k, int64_t m, const float* dy, const float* b, float* da) {
  if (trivial(n, k, m, da)) return;
  GemmNT g;  // da[i, p] = sum_j dy[i, j] * b[p, j]: rows of dy against rows of b
  g.M = n, g.N = k, g.L = m, g.A = dy, g.lda = m, g.B = b, g.ldb = m, g.C = da, g.ldc = k;
  gemm_nt(g, get_num_threads());
}

void matmul_grad_b(int64_t n, int64_t k, int64_t m, const float* a, const float* dy, float* db) {
  if (trivial(k, m, n, db)) return;
  GemmNN g;  // db[p, j] = sum_i a[i, p] * dy[i, j]: A = a^T, element (p, i) at a[i * k + p]
  g.M = k, g.N = m, g.J = n, g.A = a, g.a_rs = 1, g.a_cs = k, g.B = dy, g.ldb = m, g.C = db;
  g.ldc = m;
  gemm_nn(g, get_num_threads());
}

}  // namespace pocketcnn::kernels
