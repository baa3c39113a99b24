#include "common/file_stamp.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace weir {
namespace {

std::string TestPath(const char* name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(FileStampTest, AMissingFileHasNoneAndLeavesErrno) {
  errno = 0;
  EXPECT_EQ(StampOf(TestPath("missing")), std::nullopt);
  EXPECT_EQ(errno, ENOENT);
}

TEST(FileStampTest, AnUnchangedFileKeepsItsStamp) {
  const std::string path = TestPath("same");
  Write(path, "one");
  const std::optional<FileStamp> first = StampOf(path);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->size, 3);
  EXPECT_EQ(StampOf(path), first);
}

TEST(FileStampTest, AnEditOrAReplacementChangesIt) {
  const std::string path = TestPath("edited");
  Write(path, "one");
  const std::optional<FileStamp> before = StampOf(path);
  ASSERT_TRUE(before.has_value());
  Write(path, "two!");  // in place, another size
  const std::optional<FileStamp> edited = StampOf(path);
  ASSERT_TRUE(edited.has_value());
  EXPECT_NE(*edited, *before);
  EXPECT_EQ(edited->inode, before->inode);
  const std::string next = path + ".next";
  Write(next, "two!");
  ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
  const std::optional<FileStamp> replaced = StampOf(path);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_NE(replaced->inode, edited->inode);
  EXPECT_NE(*replaced, *edited);
}

}  // namespace
}  // namespace weir
