// Inference over a large batch in chunks of images. Each chunk runs every per-image step before
// the next chunk starts, so its intermediates stay in cache instead of a whole batch's going to
// memory and back between steps; and with several threads the chunks run side by side, one per
// thread with serial kernels: parallel over images rather than inside each op, which scales
// where one op of a small CNN is too small to split well (a 2x2 pool, a 4x4-pixel conv).
#pragma once

#include <cstdint>
#include <functional>

#include "pocketcnn/tensor.h"

namespace pocketcnn::detail {

// Images per chunk: a multiple of every ISA's Winograd F(4x4) image block (8 on avx2, 16 on
// avx512), so that a chunk takes the algorithms the whole batch would and gives the same floats
// (kernels/conv/conv_algo_impl.h: every batch of at least one block computes an image alike).
// The last chunk takes the remainder (16 to 31 images).
constexpr int64_t kPlanChunkImages = 16;

// Whether a batch of n images runs in chunks (two or more).
inline bool runs_in_chunks(int64_t n) {
  return n >= 2 * kPlanChunkImages;
}

// f(x) as f of x's row chunks (dim 0), joined along dim 0: f must treat the images of its input
// independently and give every chunk an output of the same per-image shape. An exception from f
// on any chunk is rethrown (the first, by chunk order) after all threads have stopped.
Tensor run_in_chunks(const Tensor& x, const std::function<Tensor(const Tensor&)>& f);

}  // namespace pocketcnn::detail
