#include "collector/attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace weir::collector {
namespace {

// A SCHED_CLS program that returns TC_ACT_UNSPEC: enough to attach.
int LoadObserver() {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_UNSPEC},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "weir_test", "GPL", insns, 2,
                       nullptr);
}

uint32_t ProgramId(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// Each test runs in a network namespace of its own (gone when the process
// exits) holding one veth pair, and pins below TEST_TMPDIR on a bpffs
// mounted for it.
class AttachTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    ASSERT_EQ(unshare(CLONE_NEWNET | CLONE_NEWNS), 0);
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    ASSERT_EQ(std::system("ip link add weir0 type veth peer name weir1 && ip "
                          "link set weir0 up && ip link set weir1 up"),
              0);
  }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN)";
    pin_path_ = absl::StrCat(
        getenv("TEST_TMPDIR"), "/bpffs_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(pin_path_.c_str(), 0700), 0);
    ASSERT_EQ(mount("bpf", pin_path_.c_str(), "bpf", 0, nullptr), 0)
        << "mounting bpffs at " << pin_path_ << ": " << strerror(errno);
    prog_ = LoadObserver();
    ASSERT_GE(prog_, 0);
  }
  void TearDown() override {
    if (prog_ >= 0) close(prog_);
    if (!pin_path_.empty()) umount2(pin_path_.c_str(), MNT_DETACH);
  }

  std::string pin_path_;
  int prog_ = -1;
};

TEST_F(AttachTest, TcxAttachPinsAndDetachRemoves) {
  Attacher attacher(pin_path_);
  absl::StatusOr<Attachment> a =
      attacher.Attach(prog_, "weir0", weir::v1::DIRECTION_INGRESS);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->mode, AttachMode::kTcx);
  EXPECT_FALSE(a->adopted);
  EXPECT_EQ(access(a->link_pin.c_str(), F_OK), 0);
  ASSERT_TRUE(attacher.Detach(*a).ok());
  EXPECT_NE(access(a->link_pin.c_str(), F_OK), 0);
}

TEST_F(AttachTest, ReleasedLinkSurvivesAndIsAdoptedWithANewProgram) {
  Attacher attacher(pin_path_);
  absl::StatusOr<Attachment> first =
      attacher.Attach(prog_, "weir0", weir::v1::DIRECTION_EGRESS);
  ASSERT_TRUE(first.ok()) << first.status();
  attacher.Release(*first);  // as --keep-attached on exit

  const int upgraded = LoadObserver();
  ASSERT_GE(upgraded, 0);
  absl::StatusOr<Attachment> second =
      attacher.Attach(upgraded, "weir0", weir::v1::DIRECTION_EGRESS);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->adopted);
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(second->link_fd, &info, &len), 0);
  EXPECT_EQ(info.prog_id, ProgramId(upgraded));
  EXPECT_TRUE(attacher.Detach(*second).ok());
  close(upgraded);
}

TEST_F(AttachTest, ClsactAttachReplacesOnlyOurFilter) {
  // Somebody else's clsact qdisc and filter on the same hook.
  LIBBPF_OPTS(bpf_tc_hook, hook,
              .ifindex = static_cast<int>(if_nametoindex("weir0")),
              .attach_point = BPF_TC_INGRESS);
  ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
  const int theirs = LoadObserver();
  LIBBPF_OPTS(bpf_tc_opts, other, .prog_fd = theirs, .handle = 1,
              .priority = 1);
  ASSERT_EQ(bpf_tc_attach(&hook, &other), 0);

  Attacher attacher(pin_path_);
  absl::StatusOr<Attachment> a = attacher.Attach(
      prog_, "weir0", weir::v1::DIRECTION_INGRESS, /*force_clsact=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->mode, AttachMode::kClsact);
  EXPECT_FALSE(a->created_qdisc);
  EXPECT_FALSE(a->adopted);
  absl::StatusOr<Attachment> again = attacher.Attach(
      prog_, "weir0", weir::v1::DIRECTION_INGRESS, /*force_clsact=*/true);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->adopted);
  ASSERT_TRUE(attacher.Detach(*again).ok());

  LIBBPF_OPTS(bpf_tc_opts, ours, .handle = again->handle,
              .priority = again->priority);
  EXPECT_EQ(bpf_tc_query(&hook, &ours), -ENOENT);
  LIBBPF_OPTS(bpf_tc_opts, still, .handle = 1, .priority = 1);
  ASSERT_EQ(bpf_tc_query(&hook, &still), 0);
  EXPECT_EQ(still.prog_id, ProgramId(theirs));
  close(theirs);
}

TEST_F(AttachTest, UnknownInterfaceIsNotFound) {
  Attacher attacher(pin_path_);
  absl::StatusOr<Attachment> a =
      attacher.Attach(prog_, "nosuch0", weir::v1::DIRECTION_INGRESS);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(a.status().message().find("nosuch0"), std::string::npos);
}

TEST_F(AttachTest, AllMeansUpAndNotLoopback) {
  absl::StatusOr<std::vector<std::string>> names = InterfacesThatAreUp();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"weir0", "weir1"}));
}

}  // namespace
}  // namespace weir::collector
