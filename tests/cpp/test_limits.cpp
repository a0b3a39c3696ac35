// Issue 17: resource limits and checked sizes. Each test reproduces a defect of the hostile-input
// probe: a hang in the allocator, an overflowing divisor, unbounded thread counts, and one op
// mixing two ISAs when the cap changed under it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>

#include "kernels/isa/dispatch.h"
#include "kernels/pool/avg_pool2d_ref.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"
#include "pocketcnn/limits.h"
#include "pocketcnn/memory.h"
#include "pocketcnn/ops.h"
#include "pocketcnn/tensor.h"

using namespace pocketcnn;

namespace {
template <typename Fn>
std::string value_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Limits, HugeAllocationIsAValueErrorNotAHang) {
  // size_class's `1 << (k + 1)` loop never ended for sizes >= 2^63.
  for (size_t bytes : {size_t{1} << 63, std::numeric_limits<size_t>::max(),
                       static_cast<size_t>(limits::kMaxTensorBytes) + 1}) {
    const std::string msg = value_error_of([&] { cached_alloc(bytes); });
    EXPECT_NE(msg.find("kMaxTensorBytes"), std::string::npos) << bytes;
  }
}

TEST(Limits, LargestCachedSizeClassFits) {
  // Just under 2^k and just over: classes stay inside the free lists (no out-of-range index).
  for (size_t bytes : {size_t{16} << 10, (size_t{1} << 20) - 1, (size_t{1} << 20) + 1}) {
    void* p = cached_alloc(bytes);
    ASSERT_NE(p, nullptr);
    cached_free(p, bytes);
  }
}

TEST(Limits, TensorShapesAreChecked) {
  const std::string msg = value_error_of([] { Tensor::empty({1 << 20, 1 << 20, 1 << 20}); });
  EXPECT_NE(msg.find("kMaxTensorElements"), std::string::npos);
  EXPECT_NO_THROW(shape_numel({1 << 17, 1 << 17}));  // exactly the limit
  EXPECT_THROW(shape_numel({(1 << 17) + 1, 1 << 17}), ValueError);
}

TEST(Limits, CheckedArithmetic) {
  EXPECT_EQ(limits::checked_mul(3, 4, "x"), 12);
  EXPECT_THROW(limits::checked_mul(int64_t{1} << 40, int64_t{1} << 40, "x"), ValueError);
  EXPECT_THROW(limits::checked_add(limits::kMaxTensorElements, 1, "x"), ValueError);
  EXPECT_THROW(limits::checked_mul(-1, 2, "x"), ValueError);
}

TEST(Limits, ConvWithHugePaddingIsRefused) {
  Tensor x = Tensor::full({1, 1, 1, 1}, 1.f), w = Tensor::full({1, 1, 1, 1}, 1.f);
  Conv2dOptions opt;
  opt.pad_top = opt.pad_bottom = opt.pad_left = opt.pad_right = 900'000'000;
  const std::string msg = value_error_of([&] { conv2d(x, w, Tensor(), opt); });
  EXPECT_NE(msg.find("padding must be at most 4096"), std::string::npos) << msg;
}

TEST(Limits, AvgPoolDivisorDoesNotOverflow) {
  // kernel_h * kernel_w = (2^32 - 2)^2 wrapped in int64 and the mean came out inf.
  kernels::Pool2dGeometry g{};
  g.N = g.C = g.H = g.W = 1;
  g.kernel_h = g.kernel_w = (int64_t{1} << 32) - 2;
  g.stride_h = g.stride_w = 1;
  g.pad_h = g.pad_w = (int64_t{1} << 31) - 1;
  g.P = g.Q = 1;
  const float x = 1.f;
  float y = 0.f;
  kernels::avg_pool2d_forward_ref(g, true, &x, &y);
  const double k = static_cast<double>(g.kernel_h);
  EXPECT_NEAR(y / (1.0 / (k * k)), 1.0, 1e-6);
}

TEST(Limits, ThreadCountIsBounded) {
  const int saved = get_num_threads();
  const std::string msg = value_error_of([] { set_num_threads(1'000'000'000); });
  EXPECT_NE(msg.find("kMaxThreads"), std::string::npos);
  EXPECT_THROW(set_num_threads(limits::kMaxThreads + 1), ValueError);
  EXPECT_NO_THROW(set_num_threads(limits::kMaxThreads));
  set_num_threads(saved);
}

TEST(Limits, IsaPinHoldsForTheWholeOp) {
  if (!cpu_supports(Isa::avx2)) GTEST_SKIP() << "needs two ISAs";
  const Isa saved = isa_cap();
  set_isa_cap(Isa::avx2);
  {
    IsaPin pin;
    std::thread([] { set_isa_cap(Isa::scalar); }).join();
    EXPECT_EQ(active_isa(), Isa::avx2);  // this thread's op keeps its ISA
    EXPECT_EQ(kernels::kernels().isa, Isa::avx2);
    {
      IsaPin nested;  // keeps the outer pin's ISA
      EXPECT_EQ(active_isa(), Isa::avx2);
    }
    EXPECT_EQ(active_isa(), Isa::avx2);
  }
  EXPECT_EQ(active_isa(), Isa::scalar);  // the next op sees the new cap
  set_isa_cap(saved);
}
