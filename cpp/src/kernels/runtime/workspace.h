// Per-thread scratch memory for kernels (padded inputs, column buffers, partial sums). Each thread
// keeps a few growing, 64-byte-aligned buffers for the life of the thread, so a training loop
// allocates nothing (and takes no page faults) after its first step. Slots let one kernel use
// several buffers at once; a kernel must not hold a slot across a call into another kernel that
// might use the same slot on the same thread.
#pragma once

#include <cstddef>

namespace pocketcnn::kernels {

// a, b: per-image buffers of the conv drivers; c: tables shared by a conv call's threads;
// d: GEMM offset tables; e: packed GEMM operands; f: gemm_nn's per-thread packed B panels.
enum class Scratch { a = 0, b = 1, c = 2, d = 3, e = 4, f = 5 };
constexpr int kScratchSlots = 6;

// At least `n` floats, 64-byte aligned, contents undefined; valid until the next call with the
// same slot on this thread.
float* scratch(Scratch slot, size_t n);

// Frees this thread's buffers (e.g. after a huge one-off layer).
void release_scratch();

}  // namespace pocketcnn::kernels
