// Weights the caller promises not to change under one stamp: the inference plan runs the same
// weights call after call, so what a forward entry point derives from them (the GEMM-packed
// layout, Winograd's transforms) can be kept instead of being made again on every call (at batch
// 1 that was 6-12% of a prediction). The plan names each content of a step's weights by a stamp
// (a new one after any write to them, pocketcnn/tensor.h's versions) and sets it on the calling
// thread around the kernel call; the kernels key their kept packs on it (frozen_weights_impl.h).
// Stamp 0, the default (training, the ops): nothing is kept.
#pragma once

#include <atomic>
#include <cstdint>

namespace pocketcnn::kernels {

inline thread_local uint64_t frozen_weights_stamp = 0;

// A stamp no weights had before (never 0).
inline uint64_t new_frozen_weights_stamp() {
  static std::atomic<uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) + 1;
}

// Sets the stamp of the w the kernel calls on this thread receive, for the scope's life.
class FrozenWeightsScope {
 public:
  explicit FrozenWeightsScope(uint64_t stamp) : saved_(frozen_weights_stamp) {
    frozen_weights_stamp = stamp;
  }
  ~FrozenWeightsScope() { frozen_weights_stamp = saved_; }
  FrozenWeightsScope(const FrozenWeightsScope&) = delete;
  FrozenWeightsScope& operator=(const FrozenWeightsScope&) = delete;

 private:
  uint64_t saved_;
};

}  // namespace pocketcnn::kernels
