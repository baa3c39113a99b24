#include "collector/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace weir::collector {
namespace {

// Check values from RFC 3720 appendix B.4 and the common "123456789" check.
TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  const std::string data = "the weir counts every packet that passes";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    const uint32_t first = Crc32cExtend(0, data.data(), cut);
    EXPECT_EQ(Crc32cExtend(first, data.data() + cut, data.size() - cut),
              Crc32c(data))
        << "cut at " << cut;
  }
}

TEST(Crc32cTest, EverySingleByteChangeIsSeen) {
  std::string data(300, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  const uint32_t good = Crc32c(data);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int flip : {0x01, 0x80, 0xff}) {
      std::string bad = data;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      EXPECT_NE(Crc32c(bad), good) << "byte " << i << " flip " << flip;
    }
  }
}

}  // namespace
}  // namespace weir::collector
