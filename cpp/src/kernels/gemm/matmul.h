// The 2-D matrix product and its two gradients (row-major) as GEMMs (gemm.h), so they run the
// ISA-dispatched, threaded kernels; the *_ref triple loops are the tests' oracle.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// y (n, m) = a (n, k) @ b (k, m). Overwrites y.
void matmul(int64_t n, int64_t k, int64_t m, const float* a, const float* b, float* y);
// da (n, k) = dy (n, m) @ b (k, m)^T. Overwrites da.
void matmul_grad_a(int64_t n, int64_t k, int64_t m, const float* dy, const float* b, float* da);
// db (k, m) = a (n, k)^T @ dy (n, m). Overwrites db.
void matmul_grad_b(int64_t n, int64_t k, int64_t m, const float* a, const float* dy, float* db);

// The same three as triple loops (matmul_ref.cpp), accumulating in float: the tests' oracle.
void matmul_ref(int64_t n, int64_t k, int64_t m, const float* a, const float* b, float* y);
void matmul_grad_a_ref(int64_t n, int64_t k, int64_t m, const float* dy, const float* b, float* da);
void matmul_grad_b_ref(int64_t n, int64_t k, int64_t m, const float* a, const float* dy, float* db);

}  // namespace pocketcnn::kernels
