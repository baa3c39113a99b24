#include "common/saturating.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace weir {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kHalf = uint64_t{1} << 63;

TEST(SaturatingAddTest, AddsWhatFits) {
  EXPECT_EQ(SaturatingAdd(0, 0), 0u);
  EXPECT_EQ(SaturatingAdd(2, 3), 5u);
  EXPECT_EQ(SaturatingAdd(kMax - 1, 1), kMax);
  EXPECT_EQ(SaturatingAdd(kHalf, kHalf - 1), kMax);
  EXPECT_EQ(SaturatingAdd(kMax, 0), kMax);
}

TEST(SaturatingAddTest, StopsAtTheLargestValueInsteadOfWrapping) {
  // The case that read 0: two records of 2^63 packets.
  EXPECT_EQ(SaturatingAdd(kHalf, kHalf), kMax);
  EXPECT_EQ(SaturatingAdd(kMax, 1), kMax);
  EXPECT_EQ(SaturatingAdd(kMax, kMax), kMax);
  EXPECT_EQ(SaturatingAdd(1, kMax), kMax);
}

TEST(SaturatingAddTest, AccumulatesAndStaysSaturated) {
  uint64_t sum = 0;
  for (uint64_t value : {kHalf, kHalf, uint64_t{1}, uint64_t{0}, kHalf}) {
    SaturatingAddTo(sum, value);
    EXPECT_GE(sum, value);
  }
  EXPECT_EQ(sum, kMax);
}

TEST(SaturatingAddTest, IsUsableInConstantExpressions) {
  static_assert(SaturatingAdd(1, 2) == 3);
  static_assert(SaturatingAdd(kHalf, kHalf) == kSaturated);
}

}  // namespace
}  // namespace weir
