#include "pocketcnn/memory.h"

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "pocketcnn/error.h"
#include "pocketcnn/limits.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace pocketcnn {

namespace {

constexpr size_t kAlign = 64;
// Below this, glibc's own bins serve blocks from the heap without page faults; caching them
// would only add a lock.
constexpr size_t kMinCached = 16 * 1024;
constexpr int kStepsPerOctave = 4;  // size classes 2^k * {1, 1.25, 1.5, 1.75}: <= 25% slack

// Size class of `bytes` (kMinCached <= bytes <= limits::kMaxTensorBytes) and the class's block
// size. k = floor(log2(bytes)) comes from the bit width, not a shift loop (which never ended
// for bytes >= 2^63: 1 << 64 is undefined), and the caller bounds bytes so that every class
// index fits the free lists.
int size_class(size_t bytes, size_t* class_bytes) {
  const int k = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes));  // 2^k <= bytes
  const size_t base = size_t{1} << k, step = base / kStepsPerOctave;
  const size_t sub = (bytes - base + step - 1) / step;  // 0..kStepsPerOctave
  if (sub == kStepsPerOctave) {  // exactly the next power of two's first class
    *class_bytes = base * 2;
    return (k + 1) * kStepsPerOctave;
  }
  *class_bytes = base + sub * step;
  return k * kStepsPerOctave + static_cast<int>(sub);
}

void check_alloc_size(size_t bytes) {
  PCNN_CHECK(bytes <= static_cast<size_t>(limits::kMaxTensorBytes), "cannot allocate ", bytes,
             " bytes: more than the largest tensor (", limits::kMaxTensorBytes,
             " bytes, pocketcnn::limits::kMaxTensorBytes)");
}

// POCKETCNN_CACHE_MB: a whole number of MiB from 0 to the cap's limit, else ValueError (like
// POCKETCNN_ISA: a typo must not silently mean another cap; 9e15 used to overflow to < 0).
int64_t cap_from_environment() {
  const char* env = std::getenv("POCKETCNN_CACHE_MB");
  if (!env || !*env) return int64_t{2} << 30;
  constexpr int64_t max_mb = limits::kMaxCacheBytes >> 20;
  char* end = nullptr;
  errno = 0;
  const long long mb = std::strtoll(env, &end, 10);
  PCNN_CHECK(end != env && *end == '\0' && errno == 0 && mb >= 0 && mb <= max_mb,
             "environment variable POCKETCNN_CACHE_MB must be a whole number of MiB from 0 to ",
             max_mb, " (pocketcnn::limits::kMaxCacheBytes), got '", env, "'");
  return static_cast<int64_t>(mb) << 20;
}

struct Cache {
  std::mutex mu;
  std::vector<std::vector<void*>> free_lists =
      std::vector<std::vector<void*>>(64 * kStepsPerOctave);
  std::vector<size_t> class_size = std::vector<size_t>(64 * kStepsPerOctave, 0);
  int64_t cached = 0, in_use = 0, hits = 0, misses = 0;
  int64_t cap = cap_from_environment();

  // Frees cached blocks until at most `limit` bytes stay cached. Caller holds mu.
  void trim(int64_t limit) {
    for (size_t c = free_lists.size(); c-- > 0 && cached > limit;) {
      auto& list = free_lists[c];
      while (!list.empty() && cached > limit) {
        std::free(list.back());
        list.pop_back();
        cached -= static_cast<int64_t>(class_size[c]);
      }
    }
  }
};

// Never destroyed: tensors may be freed during static destruction, after any static Cache would
// be gone.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

// Blocks of at least this size start on a 2 MiB boundary and ask Linux for transparent huge
// pages (its default mode is "madvise": only asked-for memory gets them). A kernel streaming
// through tens of MB then takes one TLB miss per 2 MiB instead of one per 4 KiB, and the first
// touch one page fault instead of 512: the 2x2 max pool of 32x64x56x56 ran 8% faster with its
// buffers on huge pages (AVX2, 1 thread, interleaved runs). Only the alignment's address space
// is extra; untouched pages stay unbacked.
constexpr size_t kHugePage = size_t{2} << 20;

void* os_alloc(size_t bytes) {
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  const bool huge = rounded >= kHugePage;
  void* p = std::aligned_alloc(huge ? kHugePage : kAlign,
                               huge ? (rounded + kHugePage - 1) / kHugePage * kHugePage : rounded);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
  return p;
}

}  // namespace

void* cached_alloc(size_t bytes) {
  if (bytes < kMinCached) return os_alloc(bytes == 0 ? 1 : bytes);
  check_alloc_size(bytes);
  size_t cb;
  const int c = size_class(bytes, &cb);
  Cache& k = cache();
  {
    std::lock_guard<std::mutex> lock(k.mu);
    k.class_size[c] = cb;
    k.in_use += static_cast<int64_t>(cb);
    auto& list = k.free_lists[c];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      k.cached -= static_cast<int64_t>(cb);
      ++k.hits;
      return p;
    }
    ++k.misses;
  }
  try {
    return os_alloc(cb);
  } catch (...) {
    // Out of memory: give the cache back to the OS and try once more.
    {
      std::lock_guard<std::mutex> lock(k.mu);
      k.trim(0);
    }
    try {
      return os_alloc(cb);
    } catch (...) {
      std::lock_guard<std::mutex> lock(k.mu);
      k.in_use -= static_cast<int64_t>(cb);
      throw;
    }
  }
}

void cached_free(void* p, size_t bytes) {
  if (!p) return;
  if (bytes < kMinCached) {
    std::free(p);
    return;
  }
  size_t cb;
  const int c = size_class(bytes, &cb);
  Cache& k = cache();
  std::lock_guard<std::mutex> lock(k.mu);
  k.in_use -= static_cast<int64_t>(cb);
  if (k.cached + static_cast<int64_t>(cb) > k.cap) {
    std::free(p);
    return;
  }
  k.free_lists[c].push_back(p);
  k.cached += static_cast<int64_t>(cb);
}

void empty_cache() {
  Cache& k = cache();
  std::lock_guard<std::mutex> lock(k.mu);
  k.trim(0);
}

void set_cache_cap(int64_t bytes) {
  Cache& k = cache();
  std::lock_guard<std::mutex> lock(k.mu);
  k.cap = bytes < 0 ? 0 : bytes > limits::kMaxCacheBytes ? limits::kMaxCacheBytes : bytes;
  k.trim(k.cap);
}

MemoryStats memory_stats() {
  Cache& k = cache();
  std::lock_guard<std::mutex> lock(k.mu);
  MemoryStats s;
  s.cached_bytes = k.cached;
  s.in_use_bytes = k.in_use;
  s.cap_bytes = k.cap;
  s.hits = k.hits;
  s.misses = k.misses;
  return s;
}

}  // namespace pocketcnn
