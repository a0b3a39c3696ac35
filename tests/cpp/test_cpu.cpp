// ISA selection: parsing, capping, and that the dispatcher follows the cap.
#include <gtest/gtest.h>

#include "kernels/isa/dispatch.h"
#include "pocketcnn/cpu.h"
#include "pocketcnn/error.h"

using namespace pocketcnn;

TEST(Cpu, ParseIsaNames) {
  EXPECT_EQ(parse_isa("scalar"), Isa::scalar);
  EXPECT_EQ(parse_isa("avx2"), Isa::avx2);
  EXPECT_EQ(parse_isa("avx512"), Isa::avx512);
  EXPECT_THROW(parse_isa("AVX2"), ValueError);
  EXPECT_THROW(parse_isa("sse"), ValueError);
  try {
    parse_isa("avx-512", "POCKETCNN_ISA");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("POCKETCNN_ISA"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("avx-512"), std::string::npos);
  }
}

TEST(Cpu, CapIsClampedToTheCpu) {
  const Isa saved = isa_cap();
  EXPECT_TRUE(cpu_supports(Isa::scalar));
  EXPECT_EQ(set_isa_cap(Isa::avx512), cpu_best_isa());
  EXPECT_EQ(set_isa_cap(Isa::scalar), Isa::scalar);
  EXPECT_EQ(active_isa(), Isa::scalar);
  EXPECT_EQ(kernels::kernels().isa, Isa::scalar);
  if (cpu_supports(Isa::avx2)) {
    EXPECT_EQ(set_isa_cap(Isa::avx2), Isa::avx2);
    EXPECT_EQ(kernels::kernels().isa, Isa::avx2);
  }
  set_isa_cap(saved);
}

TEST(Cpu, UnsupportedTableIsRefused) {
  if (cpu_supports(Isa::avx512)) GTEST_SKIP() << "this CPU has AVX-512";
  EXPECT_THROW(kernels::kernels_for(Isa::avx512), ValueError);
}

TEST(Cpu, Threads) {
  const int saved = get_num_threads();
  set_num_threads(3);
  EXPECT_EQ(get_num_threads(), 3);
  EXPECT_THROW(set_num_threads(0), ValueError);
  set_num_threads(saved);
}
