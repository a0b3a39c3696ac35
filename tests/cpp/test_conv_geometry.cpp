// make_conv2d_geometry: the one place a convolution's geometry is derived and validated.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "kernels/conv/conv_geometry.h"
#include "pocketcnn/error.h"

using pocketcnn::ValueError;
using pocketcnn::kernels::Conv2dGeometry;
using pocketcnn::kernels::kMaxConvPadding;
using pocketcnn::kernels::make_conv2d_geometry;

namespace {

// The message make_conv2d_geometry throws for these arguments ("" if it does not throw).
std::string error_of(const pocketcnn::Shape& x, const pocketcnn::Shape& w,
                     pocketcnn::kernels::Conv2dStridePadding sp) {
  try {
    make_conv2d_geometry(x, w, sp);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ConvGeometry, OutputSizeFromAsymmetricPaddingAndStride) {
  const Conv2dGeometry g = make_conv2d_geometry({2, 3, 7, 6}, {4, 3, 3, 2}, {2, 1, 1, 0, 2, 1});
  EXPECT_EQ(g.N, 2);
  EXPECT_EQ(g.C, 3);
  EXPECT_EQ(g.K, 4);
  EXPECT_EQ(g.P, (7 + 1 + 2 - 3) / 2 + 1);
  EXPECT_EQ(g.Q, (6 + 0 + 1 - 2) / 1 + 1);
  EXPECT_EQ(g.pad_top, 1);
  EXPECT_EQ(g.pad_left, 0);
}

TEST(ConvGeometry, PaddingBoundIsInclusiveAndNamedInTheMessage) {
  EXPECT_EQ(error_of({1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, kMaxConvPadding, 0, 0, 0}), "");
  for (int side = 0; side < 4; ++side) {
    int64_t pads[4] = {0, 0, 0, 0};
    pads[side] = kMaxConvPadding + 1;
    const std::string e =
        error_of({1, 1, 4, 4}, {1, 1, 3, 3}, {1, 1, pads[0], pads[1], pads[2], pads[3]});
    EXPECT_NE(e.find("padding must be at most 4096 per side"), std::string::npos) << e;
  }
  EXPECT_NE(
      error_of({1, 1, 4, 4}, {1, 1, 3, 3}, {1, 1, std::numeric_limits<int64_t>::max(), 0, 0, 0})
          .find("at most"),
      std::string::npos);
  EXPECT_NE(error_of({1, 1, 4, 4}, {1, 1, 3, 3}, {1, 1, 0, -1, 0, 0}).find("padding must be >= 0"),
            std::string::npos);
}

TEST(ConvGeometry, RejectsBadShapesAndStrides) {
  EXPECT_NE(error_of({1, 1, 4}, {1, 1, 3, 3}, {}).find("input must be 4-D"), std::string::npos);
  EXPECT_NE(error_of({1, 1, 4, 4}, {1, 1, 3}, {}).find("weight must be 4-D"), std::string::npos);
  EXPECT_NE(error_of({1, 2, 4, 4}, {1, 3, 3, 3}, {}).find("has 2 channels"), std::string::npos);
  EXPECT_NE(error_of({1, 1, 4, 4}, {1, 1, 0, 3}, {}).find("K, R, S >= 1"), std::string::npos);
  EXPECT_NE(error_of({1, 0, 4, 4}, {1, 0, 3, 3}, {}).find("C, H, W >= 1"), std::string::npos);
  EXPECT_NE(error_of({-1, 1, 4, 4}, {1, 1, 3, 3}, {}).find("N >= 0"), std::string::npos);
  EXPECT_EQ(error_of({0, 1, 4, 4}, {1, 1, 3, 3}, {}), "");  // an empty batch: the kernels no-op
  EXPECT_NE(error_of({1, 1, 4, 4}, {1, 1, 3, 3}, {0, 1}).find("stride must be >= 1"),
            std::string::npos);
  EXPECT_NE(error_of({1, 1, 2, 4}, {1, 1, 3, 3}, {}).find("larger than the padded input"),
            std::string::npos);
}

TEST(ConvGeometry, OutputSizeOverflowIsAnError) {
  const int64_t big = int64_t{1} << 40;
  const std::string e = error_of({big, 1, 1, 1}, {big, 1, 1, 1}, {});
  EXPECT_NE(e.find("overflows int64"), std::string::npos) << e;
}
