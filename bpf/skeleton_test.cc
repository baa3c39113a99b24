// The skeleton's life cycle: the order of Open, Configure and Load, and what
// a loaded object looks like in the kernel. Loading needs root.
#include "bpf/skeleton.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bpf/weir_flow.h"

namespace weir::bpf {
namespace {

constexpr char kSkipMessage[] = "needs root (CAP_BPF, CAP_PERFMON)";

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
  if (geteuid() != 0) GTEST_SKIP() << kSkipMessage;
  ProgramOptions options;
  options.flow_map_entries = 1000;
  absl::StatusOr<std::unique_ptr<Skeleton>> skeleton =
      Skeleton::OpenAndLoad(options);
  ASSERT_TRUE(skeleton.ok()) << skeleton.status();
  Skeleton& s = **skeleton;
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

}  // namespace
}  // namespace weir::bpf
