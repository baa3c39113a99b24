// The skeleton's life cycle: the order of Open, Configure and Load, and what
// a loaded object looks like in the kernel. Loading needs root.
#include "bpf/skeleton.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bpf/testing/loaded_skeleton.h"
#include "bpf/weir_flow.h"

namespace weir::bpf {
namespace {

bpf_map_info MapInfo(int fd) {
  bpf_map_info info = {};
  __u32 len = sizeof(info);
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  return info;
}

TEST(SkeletonTest, ConfigureAndLoadNeedOpen) {
  Skeleton skeleton;
  EXPECT_EQ(skeleton.Configure({}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(skeleton.Load().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(skeleton.ingress_program_fd(), -1);
  EXPECT_EQ(skeleton.flow_map_fd(0), -1);
}

TEST(SkeletonTest, OpenTwiceFails) {
  Skeleton skeleton;
  ASSERT_TRUE(skeleton.Open().ok());
  EXPECT_EQ(skeleton.Open().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SkeletonTest, ZeroFlowEntriesIsInvalid) {
  Skeleton skeleton;
  ASSERT_TRUE(skeleton.Open().ok());
  ProgramOptions options;
  options.flow_map_entries = 0;
  absl::Status status = skeleton.Configure(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("flow_map_entries"), absl::string_view::npos)
      << status;
}

TEST(SkeletonTest, LoadCreatesBothFlowMapsInTheSlots) {
  if (geteuid() != 0) GTEST_SKIP() << testing::kNeedsRoot;
  ProgramOptions options;
  options.flow_map_entries = 1000;
  const std::unique_ptr<Skeleton> skeleton = testing::LoadedSkeleton(options);
  ASSERT_NE(skeleton, nullptr);
  Skeleton& s = *skeleton;
  EXPECT_TRUE(s.loaded());
  EXPECT_GE(s.ingress_program_fd(), 0);
  EXPECT_GE(s.egress_program_fd(), 0);
  EXPECT_GE(s.counters_fd(), 0);
  EXPECT_EQ(s.flow_map_fd(2), -1);

  for (uint32_t slot = 0; slot < WEIR_FLOW_SLOTS; ++slot) {
    bpf_map_info info = MapInfo(s.flow_map_fd(slot));
    EXPECT_EQ(info.type, BPF_MAP_TYPE_PERCPU_HASH) << "slot " << slot;
    EXPECT_EQ(info.key_size, sizeof(weir_flow_key));
    EXPECT_EQ(info.value_size, sizeof(weir_flow_value));
    EXPECT_EQ(info.max_entries, 1000u);
    // The outer map holds this very map (by id) in the slot.
    __u32 id = 0;
    ASSERT_EQ(bpf_map_lookup_elem(s.flow_slots_fd(), &slot, &id), 0)
        << "slot " << slot;
    EXPECT_EQ(id, info.id) << "slot " << slot;
  }
  bpf_map_info counters = MapInfo(s.counters_fd());
  EXPECT_EQ(counters.type, BPF_MAP_TYPE_PERCPU_ARRAY);
  EXPECT_EQ(counters.max_entries,
            static_cast<__u32>(WEIR_FLOW_SLOTS * WEIR_COUNTER_MAX));
  EXPECT_EQ(counters.value_size, sizeof(weir_counter));

  const __u32 zero = 0;
  __u32 active = 99;
  ASSERT_EQ(bpf_map_lookup_elem(s.active_slot_fd(), &zero, &active), 0);
  EXPECT_EQ(active, 0u);

  EXPECT_EQ(s.Load().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Configure({}).code(), absl::StatusCode::kFailedPrecondition);
}

// Pins live on a bpffs mounted for this test in a private mount namespace
// (gone with the process).
class PinnedSkeletonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << testing::kNeedsRoot;
    ASSERT_EQ(unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    bpffs_ = absl::StrCat(getenv("TEST_TMPDIR"), "/bpffs");
    mkdir(bpffs_.c_str(), 0700);
    ASSERT_EQ(mount("bpf", bpffs_.c_str(), "bpf", 0, nullptr), 0)
        << strerror(errno);
    options_.flow_map_entries = 1024;
    options_.pin_path = bpffs_ + "/weir";
  }
  void TearDown() override {
    if (!bpffs_.empty()) umount2(bpffs_.c_str(), MNT_DETACH);
  }

  std::string bpffs_;
  ProgramOptions options_;
};

TEST_F(PinnedSkeletonTest, ASecondLoadAdoptsThePinnedMapsAndTheirCounts) {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<weir_counter> values(cpus);
  values[0] = {7, 700};
  {
    absl::StatusOr<std::unique_ptr<Skeleton>> first =
        Skeleton::OpenAndLoad(options_);
    ASSERT_TRUE(first.ok()) << first.status();
    EXPECT_FALSE((*first)->adopted());
    const __u32 seen = WEIR_COUNTER_SEEN;
    ASSERT_EQ(bpf_map_update_elem((*first)->counters_fd(), &seen, values.data(),
                                  BPF_ANY),
              0);
    const __u32 zero = 0, one = 1;
    ASSERT_EQ(
        bpf_map_update_elem((*first)->active_slot_fd(), &zero, &one, BPF_ANY),
        0);
  }  // the first owner goes; its pins keep the maps

  absl::StatusOr<std::unique_ptr<Skeleton>> second =
      Skeleton::OpenAndLoad(options_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE((*second)->adopted());
  const __u32 seen = WEIR_COUNTER_SEEN;
  std::vector<weir_counter> read(cpus);
  ASSERT_EQ(bpf_map_lookup_elem((*second)->counters_fd(), &seen, read.data()),
            0);
  EXPECT_EQ(read[0].packets, 7u);
  EXPECT_EQ(read[0].bytes, 700u);
  const __u32 zero = 0;
  __u32 active = 0;
  ASSERT_EQ(bpf_map_lookup_elem((*second)->active_slot_fd(), &zero, &active),
            0);
  EXPECT_EQ(active, 1u);
  // Both slots still hold their own maps.
  for (__u32 slot = 0; slot < WEIR_FLOW_SLOTS; ++slot) {
    __u32 id = 0;
    ASSERT_EQ(bpf_map_lookup_elem((*second)->flow_slots_fd(), &slot, &id), 0);
    bpf_map_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd((*second)->flow_map_fd(slot), &info, &len),
              0);
    EXPECT_EQ(id, info.id) << "slot " << slot;
  }

  ASSERT_TRUE((*second)->Unpin().ok());
  EXPECT_NE(access((options_.pin_path + "/weir_counters").c_str(), F_OK), 0);
}

TEST_F(PinnedSkeletonTest, ADifferentMapSizeIsRefusedWithAClearMessage) {
  {
    absl::StatusOr<std::unique_ptr<Skeleton>> first =
        Skeleton::OpenAndLoad(options_);
    ASSERT_TRUE(first.ok()) << first.status();
  }
  options_.flow_map_entries = 2048;
  absl::StatusOr<std::unique_ptr<Skeleton>> second =
      Skeleton::OpenAndLoad(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find(
                "hold 1024 flows per interval, not the 2048"),
            std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace weir::bpf
