// The tensor memory cache. Page faults are expensive on this class of machine (PyTorch loses 3-5
// ms of a 15 ms training step to them with default malloc, see ANCHORS.md): glibc returns every
// large block to the OS on free (munmap), and the next step faults the same pages in again.
// Tensor::empty therefore takes large buffers from size-bucketed free lists and gives them back
// there; a training loop that repeats the same shapes allocates nothing from the OS after its
// first step. Memory goes back to the OS only on request (empty_cache) or above a cap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pocketcnn {

struct MemoryStats {
  int64_t cached_bytes = 0;      // held in the free lists, ready for reuse
  int64_t in_use_bytes = 0;      // handed out and not yet returned (cached size classes only)
  int64_t cap_bytes = 0;         // the free lists never hold more than this
  int64_t hits = 0, misses = 0;  // allocations served from the free lists / from the OS
};

// 64-byte aligned memory for `bytes` bytes (rounded up to a size class). Thread-safe.
void* cached_alloc(size_t bytes);
// Returns memory from cached_alloc (same `bytes` as requested).
void cached_free(void* p, size_t bytes);

// Frees every cached block (memory in use is untouched).
void empty_cache();
// Sets the cap (bytes; 0 disables caching). Default 2 GiB or POCKETCNN_CACHE_MB. Trims at once.
void set_cache_cap(int64_t bytes);
MemoryStats memory_stats();

}  // namespace pocketcnn
