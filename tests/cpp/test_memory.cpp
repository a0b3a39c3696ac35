// The tensor memory cache: reuse, size classes, the cap, empty_cache, and many threads at once.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "pocketcnn/memory.h"
#include "pocketcnn/tensor.h"

using namespace pocketcnn;

TEST(MemoryCache, ReusesFreedBlocksOfTheSameClass) {
  empty_cache();
  const MemoryStats s0 = memory_stats();
  void* a = cached_alloc(1 << 20);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, 1 << 20);
  cached_free(a, 1 << 20);
  EXPECT_GE(memory_stats().cached_bytes, 1 << 20);
  void* b = cached_alloc((1 << 20) - 100);  // same size class
  EXPECT_EQ(a, b);
  const MemoryStats s1 = memory_stats();
  EXPECT_EQ(s1.hits, s0.hits + 1);
  EXPECT_EQ(s1.misses, s0.misses + 1);
  cached_free(b, (1 << 20) - 100);
  empty_cache();
  EXPECT_EQ(memory_stats().cached_bytes, 0);
}

TEST(MemoryCache, SmallBlocksBypassTheCache) {
  empty_cache();
  const MemoryStats s0 = memory_stats();
  void* p = cached_alloc(100);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  cached_free(p, 100);
  void* z = cached_alloc(0);
  cached_free(z, 0);
  EXPECT_EQ(memory_stats().hits + memory_stats().misses, s0.hits + s0.misses);
  EXPECT_EQ(memory_stats().cached_bytes, 0);
}

TEST(MemoryCache, CapLimitsWhatIsKept) {
  empty_cache();
  set_cache_cap(3 << 20);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(cached_alloc(1 << 20));
  for (void* p : blocks) cached_free(p, 1 << 20);
  EXPECT_LE(memory_stats().cached_bytes, 3 << 20);
  EXPECT_GE(memory_stats().cached_bytes, 2 << 20);
  set_cache_cap(1 << 20);  // trims at once
  EXPECT_LE(memory_stats().cached_bytes, 1 << 20);
  set_cache_cap(0);
  EXPECT_EQ(memory_stats().cached_bytes, 0);
  set_cache_cap(int64_t{2} << 30);
}

TEST(MemoryCache, TensorsGoThroughTheCache) {
  empty_cache();
  const int64_t in_use = memory_stats().in_use_bytes;
  {
    Tensor t = Tensor::zeros({256, 1024});
    EXPECT_GE(memory_stats().in_use_bytes, in_use + 256 * 1024 * 4);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  }
  EXPECT_EQ(memory_stats().in_use_bytes, in_use);
  EXPECT_GE(memory_stats().cached_bytes, 256 * 1024 * 4);
  empty_cache();
}

TEST(MemoryCache, ThreadSafe) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 2000; ++i) {
        const size_t n = 16384 + 4096 * ((i * 7 + t) % 13);
        auto* p = static_cast<unsigned char*>(cached_alloc(n));
        p[0] = p[n - 1] = static_cast<unsigned char>(t);
        EXPECT_EQ(p[0], p[n - 1]);
        cached_free(p, n);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(memory_stats().in_use_bytes, 0);
  empty_cache();
}
