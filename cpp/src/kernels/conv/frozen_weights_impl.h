// What the forward entry points keep per frozen-weights stamp (frozen_weights.h): a small cache
// per thread and per ISA translation unit (each ISA packs its own layout).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv/frozen_weights.h"
#include "kernels/gemm/gemm_impl.h"

namespace pocketcnn::kernels::impl {
// Internal linkage per ISA translation unit (see conv2d_impl.h).
namespace {

// Packs larger than this are made on every call (their layer's GEMMs dwarf the packing, and a
// cache of them would hold tens of MB).
constexpr int64_t kFrozenPackMaxFloats = int64_t{1} << 20;

// The kept result of make(dst) (`floats` floats) for the current stamp and `kind` (which
// derivation: callers pass distinct kinds for distinct layouts of the same weights), or null
// when nothing may be kept (stamp 0, too large): the caller then makes it itself.
template <class Make>
const float* frozen_pack(int kind, int64_t floats, Make&& make) {
  const uint64_t stamp = frozen_weights_stamp;
  if (stamp == 0 || floats > kFrozenPackMaxFloats) return nullptr;
  struct Entry {
    uint64_t stamp = 0;
    int kind = 0;
    std::vector<float> data;
  };
  constexpr int kEntries = 48;  // a network's convs (more: round robin, packing again)
  thread_local Entry entries[kEntries];
  thread_local int next = 0;
  for (Entry& e : entries) {
    if (e.stamp == stamp && e.kind == kind && static_cast<int64_t>(e.data.size()) == floats) {
      return e.data.data();
    }
  }
  Entry& e = entries[next];
  next = (next + 1) % kEntries;
  e.stamp = 0;  // until made (make may throw)
  e.data.resize(static_cast<size_t>(floats));
  make(e.data.data());
  e.stamp = stamp, e.kind = kind;
  return e.data.data();
}

enum FrozenPackKind { kFrozenNnA = 1 };

// w (K, CRS) packed for gemm_nn (pack_nn_a): kept under the frozen stamp, else packed into dst
// (packed_nn_a_size floats).
template <class Cfg>
const float* packed_conv_weights(int64_t K, int64_t CRS, const float* w, float* dst) {
  const float* kept = frozen_pack(kFrozenNnA, packed_nn_a_size<Cfg>(K, CRS),
                                  [&](float* out) { pack_nn_a<Cfg>(K, CRS, w, CRS, 1, out); });
  if (kept) return kept;
  pack_nn_a<Cfg>(K, CRS, w, CRS, 1, dst);
  return dst;
}

}  // namespace
}  // namespace pocketcnn::kernels::impl
