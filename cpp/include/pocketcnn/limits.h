// Resource limits: the largest things pocketcnn agrees to compute or read. Each is far above any
// real CNN on a CPU and far below where sizes overflow int64/size_t, so a hostile shape, option,
// environment variable or file header is refused with a ValueError naming the limit instead of
// hanging, overflowing or exhausting memory. Python sees the same numbers as
// pocketcnn._core.limits() (the file readers use them too).
#pragma once

#include <cstdint>
#include <limits>

#include "pocketcnn/error.h"

namespace pocketcnn::limits {

// The largest tensor: 2^34 float32 elements (64 GiB). Also bounds every kernel workspace.
constexpr int64_t kMaxTensorElements = int64_t{1} << 34;
constexpr int64_t kMaxTensorBytes = kMaxTensorElements * 4;
// The most threads set_num_threads accepts (OpenMP would otherwise start them all).
constexpr int kMaxThreads = 256;
// The largest file header pocketcnn parses: a model file's header.json, an .npy member's header,
// an IDX header (each is read and checked before anything it declares is allocated).
constexpr int64_t kMaxFileHeaderBytes = int64_t{16} << 20;
// The largest tensor-memory cache (POCKETCNN_CACHE_MB, set_cache_cap): the largest tensor.
constexpr int64_t kMaxCacheBytes = kMaxTensorBytes;

// a * b for sizes >= 0, or ValueError naming `what` and the limit when the product exceeds
// `limit` (checked before multiplying, so it cannot overflow).
inline int64_t checked_mul(int64_t a, int64_t b, const char* what,
                           int64_t limit = kMaxTensorElements) {
  PCNN_CHECK(a >= 0 && b >= 0, what, ": negative size ", a, " * ", b);
  PCNN_CHECK(a == 0 || b <= limit / a, what, ": ", a, " * ", b, " elements exceed the limit of ",
             limit, " (pocketcnn::limits::kMaxTensorElements = 2^34)");
  return a * b;
}

// a + b for sizes >= 0, with the same check.
inline int64_t checked_add(int64_t a, int64_t b, const char* what,
                           int64_t limit = kMaxTensorElements) {
  PCNN_CHECK(a >= 0 && b >= 0, what, ": negative size ", a, " + ", b);
  PCNN_CHECK(a <= limit && b <= limit - a, what, ": ", a, " + ", b,
             " elements exceed the limit of ", limit,
             " (pocketcnn::limits::kMaxTensorElements = 2^34)");
  return a + b;
}

}  // namespace pocketcnn::limits
