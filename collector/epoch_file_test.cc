#include "collector/epoch_file.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

class EpochFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        absl::StrCat(::testing::TempDir(), "/epoch_file_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/EPOCH";
  }

  std::string Contents() const {
    std::ifstream in(path_);
    std::string text;
    std::getline(in, text);
    return text;
  }

  std::string dir_;
  std::string path_;
};

constexpr int64_t kNow = 1'700'000'000'000'000'000;

TEST_F(EpochFileTest, FirstStartTakesTheClockAndWritesIt) {
  absl::StatusOr<EpochChoice> choice =
      NextEpoch(path_, absl::FromUnixNanos(kNow));
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->epoch, static_cast<uint64_t>(kNow));
  EXPECT_FALSE(choice->clock_behind);
  EXPECT_FALSE(choice->file_damaged);
  EXPECT_EQ(Contents(), absl::StrCat(kNow));
}

TEST_F(EpochFileTest, NeverGoesBackwardsWhenTheClockSteppedBack) {
  // Each row: the clock at a start, the floor, the epoch it must get.
  struct Row {
    int64_t clock;
    uint64_t floor;
    uint64_t want;
    bool clock_behind;
  };
  const Row rows[] = {
      {kNow, 0, kNow, false},                          // first start
      {kNow + 10, 0, kNow + 10, false},                // clock moved on
      {kNow - 3'600'000'000'000, 0, kNow + 11, true},  // stepped back 1 h
      {kNow + 11, 0, kNow + 12, true},                 // same nanosecond
      {kNow + 100, kNow + 500, kNow + 500, false},  // a spooled batch's epoch
      {kNow + 200, 0, kNow + 501, true},            // still behind the file
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(absl::StrCat("clock ", row.clock, " floor ", row.floor));
    absl::StatusOr<EpochChoice> choice =
        NextEpoch(path_, absl::FromUnixNanos(row.clock), row.floor);
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_EQ(choice->epoch, row.want);
    EXPECT_EQ(choice->clock_behind, row.clock_behind);
    EXPECT_EQ(Contents(), absl::StrCat(row.want));
  }
}

TEST_F(EpochFileTest, ADamagedFileIsReplacedAndSaidSo) {
  for (const char* text :
       {"", "garbage\n", "-5\n", "99999999999999999999999\n"}) {
    SCOPED_TRACE(text);
    {
      std::ofstream out(path_, std::ios::trunc);
      out << text;
    }
    absl::StatusOr<EpochChoice> choice =
        NextEpoch(path_, absl::FromUnixNanos(kNow));
    ASSERT_TRUE(choice.ok()) << choice.status();
    EXPECT_TRUE(choice->file_damaged);
    EXPECT_EQ(choice->epoch, static_cast<uint64_t>(kNow));
    EXPECT_EQ(Contents(), absl::StrCat(kNow));
  }
}

TEST_F(EpochFileTest, AnUnwritableFolderIsAnErrorNamingThePath) {
  const std::string missing = dir_ + "/no/such/folder/EPOCH";
  absl::StatusOr<EpochChoice> choice =
      NextEpoch(missing, absl::FromUnixNanos(kNow));
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.status().message().find(missing), std::string::npos)
      << choice.status();
}

}  // namespace
}  // namespace weir::collector
