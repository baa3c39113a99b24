#include "collector/preflight.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

using ::testing::ExitedWithCode;

// Drops `cap` from the effective set of this (forked) process.
void DropEffective(int cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) std::exit(10);
  data[cap / 32].effective &= ~(1u << (cap % 32));
  if (syscall(SYS_capset, &header, data) != 0) std::exit(11);
}

TEST(PreflightTest, RootHasEverything) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)";
  EXPECT_TRUE(CheckCapabilities().ok()) << CheckCapabilities();
}

TEST(PreflightTest, NamesEachMissingCapability) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to drop capabilities selectively";
  // In a child, so the test process keeps its capabilities.
  EXPECT_EXIT(
      {
        DropEffective(CAP_BPF);
        DropEffective(CAP_PERFMON);
        const absl::Status status = CheckCapabilities();
        std::fprintf(stderr, "%s\n", status.ToString().c_str());
        std::exit(status.code() == absl::StatusCode::kFailedPrecondition ? 0
                                                                         : 1);
      },
      ExitedWithCode(0),
      "FAILED_PRECONDITION: missing CAP_BPF, CAP_PERFMON: weir-collector "
      "needs");
}

TEST(PreflightTest, SysAdminIsNoSubstitute) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to drop capabilities selectively";
  EXPECT_EXIT(
      {
        DropEffective(CAP_NET_ADMIN);  // CAP_SYS_ADMIN stays.
        const absl::Status status = CheckCapabilities();
        std::fprintf(stderr, "%s\n", status.ToString().c_str());
        std::exit(status.ok() ? 1 : 0);
      },
      ExitedWithCode(0), "missing CAP_NET_ADMIN:");
}

TEST(PreflightTest, KernelBtf) {
  EXPECT_EQ(CheckKernelBtf("/nonexistent/vmlinux").code(),
            absl::StatusCode::kFailedPrecondition);
  if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
    EXPECT_TRUE(CheckKernelBtf().ok());
  }
}

}  // namespace
}  // namespace weir::collector
