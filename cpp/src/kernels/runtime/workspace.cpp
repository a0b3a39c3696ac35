#include "kernels/runtime/workspace.h"

#include <cstdlib>
#include <new>

namespace pocketcnn::kernels {

namespace {
struct Buffers {
  float* ptr[kScratchSlots] = {};
  size_t cap[kScratchSlots] = {};
  ~Buffers() {
    for (float* p : ptr) std::free(p);
  }
};
thread_local Buffers t_buffers;
}  // namespace

float* scratch(Scratch slot, size_t n) {
  const int i = static_cast<int>(slot);
  if (t_buffers.cap[i] < n) {
    std::free(t_buffers.ptr[i]);
    t_buffers.ptr[i] = nullptr;
    t_buffers.cap[i] = 0;
    // Grow by 1/4 more than asked so slowly growing shapes do not reallocate every call; +64
    // floats of slack so vector tails may read a little past the end.
    size_t want = n + n / 4 + 64;
    size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    t_buffers.ptr[i] = static_cast<float*>(p);
    t_buffers.cap[i] = bytes / sizeof(float);
  }
  return t_buffers.ptr[i];
}

void release_scratch() {
  for (int i = 0; i < kScratchSlots; ++i) {
    std::free(t_buffers.ptr[i]);
    t_buffers.ptr[i] = nullptr;
    t_buffers.cap[i] = 0;
  }
}

}  // namespace pocketcnn::kernels
