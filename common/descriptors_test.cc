#include "common/descriptors.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace weir {
namespace {

TEST(DescriptorsTest, LimitIsTheSoftLimit) {
  rlimit limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(static_cast<rlim_t>(DescriptorLimit()),
            std::min<rlim_t>(limit.rlim_cur, rlim_t{1} << 30));
}

TEST(DescriptorsTest, CountsWhatIsOpen) {
  const int before = OpenDescriptors();
  ASSERT_GT(before, 0);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_GE(fds.back(), 0);
  }
  EXPECT_EQ(OpenDescriptors(), before + 5);
  for (int fd : fds) close(fd);
  EXPECT_EQ(OpenDescriptors(), before);
}

TEST(DescriptorsTest, NoneLeftToCountWith) {
  // Fill every descriptor up to a lowered limit: the count cannot be read.
  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int open_now = OpenDescriptors();
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(open_now + 8);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fds;
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) {
    fds.push_back(fd);
    ASSERT_LT(fds.size(), 64u);
  }
  EXPECT_EQ(OpenDescriptors(), -1);
  close(fds.back());
  fds.pop_back();
  EXPECT_EQ(OpenDescriptors(), open_now + static_cast<int>(fds.size()));
  for (int fd : fds) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace weir
