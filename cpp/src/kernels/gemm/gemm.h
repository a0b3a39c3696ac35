// Matrix products for the CNN kernels, in two shapes that need no packing of either operand:
//
// NN ("broadcast A, stream rows of B"): C (M x N) = A (M x J) * B (J x N), where row j of B
//   starts at B + boff[j] (or B + j * ldb when boff is null). The offset table is what turns a
//   stride-1 convolution into a GEMM without an im2col copy: with a padded input plane of row
//   width Wp, row (c, r, s) of the implicit "column matrix" is the input itself shifted by
//   c*Hp*Wp + r*Wp + s (the "junk column" trick: outputs are computed Wp wide and the last S-1
//   columns of each row are discarded).
// NT ("dot products"): C (M x N) = A (M x L) * B^T where row j of B starts at B + boff[j] (or
//   j * ldb): both operands are read contiguously along the reduction, accumulated in vector
//   lanes and summed across lanes once per block. Used for the weight gradient of a convolution
//   (reduction over output pixels) and the dense forward pass (reduction over features).
//
// Both overwrite C, or add to it when `accumulate`. A is addressed A[i * a_rs + j * a_cs] (NN) /
// A[i * lda + l] (NT), so transposed operands need no copy either. `threads` is an upper bound;
// small products stay on one thread (parallel.h). Results do not depend on `threads` for NN and
// NT (each output element is computed by one thread in one order).
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

struct GemmNN {
  int64_t M = 0, N = 0, J = 0;
  const float* A = nullptr;
  int64_t a_rs = 0, a_cs = 1;
  const float* B = nullptr;
  const int64_t* boff = nullptr;  // J offsets, or null: row j at j * ldb
  int64_t ldb = 0;
  float* C = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
  // A is already packed (impl::pack_nn_a for this M and J; a_rs/a_cs ignored): callers that run
  // many GEMMs with the same A (a convolution, image after image) pack it once.
  bool a_packed = false;
};

struct GemmNT {
  int64_t M = 0, N = 0, L = 0;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  const int64_t* boff = nullptr;  // N offsets, or null: row j at j * ldb
  int64_t ldb = 0;
  float* C = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;
};

// A register block of the microkernels: mr rows of A by nr vectors (block_configs.h).
namespace impl {
struct BlockShape {
  int mr, nr;
};
}  // namespace impl

// Dispatched by the active ISA (dispatch.cpp).
void gemm_nn(const GemmNN& g, int threads);
void gemm_nt(const GemmNT& g, int threads);

// Reference versions: triple loops, for the tests.
void gemm_nn_ref(const GemmNN& g);
void gemm_nt_ref(const GemmNT& g);

}  // namespace pocketcnn::kernels
