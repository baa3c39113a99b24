#include "collector/token_file.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace weir::collector {
namespace {

std::string Write(const std::string& name, const std::string& contents) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(TokenFileTest, ReadsOneTokenWithoutItsNewline) {
  for (const char* contents :
       {"abc-123_token", "abc-123_token\n", "  abc-123_token\r\n\n"}) {
    absl::StatusOr<std::string> token = ReadTokenFile(Write("token", contents));
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(*token, "abc-123_token");
  }
}

TEST(TokenFileTest, RefusesWhatIsNotOneTokenWithoutEchoingIt) {
  const struct {
    const char* contents;
    const char* error;
  } cases[] = {
      {"", "is empty"},
      {"\n \n", "is empty"},
      {"secret-one secret-two\n", "must hold one token"},
      {"secret\x01token", "must hold one token"},
  };
  for (const auto& c : cases) {
    const std::string path = Write("bad-token", c.contents);
    absl::StatusOr<std::string> token = ReadTokenFile(path);
    ASSERT_FALSE(token.ok()) << c.contents;
    EXPECT_NE(token.status().message().find(c.error), std::string::npos)
        << token.status();
    EXPECT_NE(token.status().message().find(path), std::string::npos);
    EXPECT_EQ(token.status().message().find("secret"), std::string::npos);
  }
  absl::StatusOr<std::string> missing = ReadTokenFile(Write("x", "") + ".none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace weir::collector
