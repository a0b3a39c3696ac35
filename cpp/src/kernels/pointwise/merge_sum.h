// The sum of a residual connection for the inference graph plan: y = act(x0 + x1 + ... ) over n
// floats, one pass over memory (Add followed by ReLU as one step, no intermediate sum). The
// inputs are added left to right, the same order as chained add() ops, and ReLU is the reference
// `v < 0 ? 0 : v` (NaN and -0 kept, as relu()), so the floats equal add() then relu() exactly.
// y may be one of the inputs (the plan writes into a buffer whose last reader is this sum): each
// element is read before it is written, at the same index.
#pragma once

#include <cstdint>

namespace pocketcnn::kernels {

// Plain loops, single-threaded: the oracle merge_sum is tested against.
void merge_sum_ref(int64_t n_inputs, const float* const* xs, int64_t n, bool relu, float* y);
// The same, split over up to get_num_threads() threads when the memory traffic pays for a second
// one (parallel.h). The loop is written so the compiler vectorises it for the baseline ISA: the
// sum is memory-bound (3 streams for 2 inputs), so wider vectors would not make it faster.
void merge_sum(int64_t n_inputs, const float* const* xs, int64_t n, bool relu, float* y);

}  // namespace pocketcnn::kernels
