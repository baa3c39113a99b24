// FlowTable against real kernel maps: batched reads across many entries and
// CPUs, clearing, the swap, and refusing to drain the active slot. The maps
// are filled from user space, so the results do not depend on the program's
// parser (weir_bpf_test covers that). Needs root.
#include "bpf/flow_table.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bpf/skeleton.h"
#include "bpf/testing/loaded_skeleton.h"
#include "bpf/weir_flow.h"

namespace weir::bpf {
namespace {

weir_flow_key KeyForIndex(uint32_t i) {
  weir_flow_key key = {};
  key.ifindex = 1;
  key.direction = WEIR_DIRECTION_EGRESS;
  key.ip_version = WEIR_IP_VERSION_6;
  key.protocol = 17;
  key.src_addr[0] = htonl(0x20010db8);
  key.src_addr[3] = htonl(i);
  key.dst_addr[0] = htonl(0x20010db8);
  key.src_port = static_cast<uint16_t>(i);
  key.dst_port = 53;
  return key;
}

class FlowTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << testing::kNeedsRoot;
    ProgramOptions options;
    options.flow_map_entries = 8192;
    skeleton_ = testing::LoadedSkeleton(options);
    ASSERT_NE(skeleton_, nullptr);
    table_ = std::make_unique<FlowTable>(*skeleton_);
    cpus_ = libbpf_num_possible_cpus();
    ASSERT_GT(cpus_, 0);
  }

  // Puts `count` flows into `slot`'s map; flow i has, on CPU c, c + 1
  // packets of 100 bytes, first seen at 1000 + i + c (0 on odd CPUs: only
  // the creating CPU sets it), last seen at 5000 + c, TCP flag bit c % 8.
  void Fill(uint32_t slot, uint32_t count) {
    std::vector<weir_flow_value> values(static_cast<size_t>(cpus_));
    for (uint32_t i = 0; i < count; ++i) {
      for (int c = 0; c < cpus_; ++c) {
        weir_flow_value& v = values[c];
        v = {};
        v.packets = c + 1;
        v.bytes = 100u * (c + 1);
        v.first_seen_ns = c % 2 == 0 ? 1000 + i + c : 0;
        v.last_seen_ns = 5000 + c;
        v.tcp_flags = 1u << (c % 8);
      }
      weir_flow_key key = KeyForIndex(i);
      ASSERT_EQ(bpf_map_update_elem(skeleton_->flow_map_fd(slot), &key,
                                    values.data(), BPF_NOEXIST),
                0)
          << "flow " << i;
    }
  }

  void ExpectMerged(const FlowEntry& flow) {
    const uint64_t n = static_cast<uint64_t>(cpus_);
    const uint32_t i = ntohl(flow.key.src_addr[3]);
    EXPECT_EQ(flow.value.packets, n * (n + 1) / 2);
    EXPECT_EQ(flow.value.bytes, 100 * n * (n + 1) / 2);
    EXPECT_EQ(flow.value.first_seen_ns, 1000u + i);
    EXPECT_EQ(flow.value.last_seen_ns, 5000u + n - 1);
    uint32_t flags = 0;
    for (int c = 0; c < cpus_; ++c) flags |= 1u << (c % 8);
    EXPECT_EQ(flow.value.tcp_flags, flags);
  }

  std::unique_ptr<Skeleton> skeleton_;
  std::unique_ptr<FlowTable> table_;
  int cpus_ = 0;
};

TEST_F(FlowTableTest, DrainReadsEveryFlowAcrossBatchesAndClears) {
  // More flows than one 1,024-key batch, and not a multiple of it: the last
  // chunk comes back together with ENOENT.
  constexpr uint32_t kFlows = 5000;
  Fill(1, kFlows);
  absl::StatusOr<std::vector<FlowEntry>> flows = table_->Drain(1);
  ASSERT_TRUE(flows.ok()) << flows.status();
  ASSERT_EQ(flows->size(), kFlows);
  std::vector<bool> seen(kFlows);
  for (const FlowEntry& flow : *flows) {
    const uint32_t i = ntohl(flow.key.src_addr[3]);
    ASSERT_LT(i, kFlows);
    EXPECT_FALSE(seen[i]) << "flow " << i << " twice";
    seen[i] = true;
    ExpectMerged(flow);
  }
  absl::StatusOr<std::vector<FlowEntry>> again = table_->Drain(1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->empty());
}

TEST_F(FlowTableTest, DrainOfAnEmptyMapIsEmpty) {
  absl::StatusOr<std::vector<FlowEntry>> flows = table_->Drain(1);
  ASSERT_TRUE(flows.ok()) << flows.status();
  EXPECT_TRUE(flows->empty());
}

TEST_F(FlowTableTest, SwapAndDrainReturnsTheActiveSlotsFlows) {
  Fill(0, 3);  // slot 0 is active after load
  absl::StatusOr<std::vector<FlowEntry>> flows = table_->SwapAndDrain();
  ASSERT_TRUE(flows.ok()) << flows.status();
  EXPECT_EQ(flows->size(), 3u);
  absl::StatusOr<uint32_t> active = table_->ActiveSlot();
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_EQ(*active, 1u);
}

TEST_F(FlowTableTest, ReadLeavesTheSlotUntilClearAndReadPreviousFindsIt) {
  absl::StatusOr<std::optional<FlowTable::Interval>> none =
      table_->ReadPrevious();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());  // generation 0: nothing swapped out yet

  Fill(0, 3);  // slot 0 is active after load
  absl::StatusOr<FlowTable::Interval> read = table_->SwapAndRead();
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->generation, 0u);
  EXPECT_EQ(read->slot, 0u);
  EXPECT_EQ(read->flows.size(), 3u);

  // A collector that died here left the interval in the slot.
  absl::StatusOr<std::optional<FlowTable::Interval>> left =
      table_->ReadPrevious();
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_TRUE(left->has_value());
  EXPECT_EQ((*left)->generation, 0u);
  EXPECT_EQ((*left)->flows.size(), 3u);

  ASSERT_TRUE(table_->Clear(**left).ok());
  absl::StatusOr<std::optional<FlowTable::Interval>> cleared =
      table_->ReadPrevious();
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_FALSE(cleared->has_value());
}

TEST_F(FlowTableTest, RefusesToDrainTheActiveSlot) {
  Fill(0, 1);
  EXPECT_EQ(table_->Drain(0).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(table_->Drain(2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FlowTableTest, TheGenerationCountsSwapsAndItsLowBitIsTheSlot) {
  const __u32 zero = 0;
  const __u32 start = 7;  // an adopted table that has swapped 7 times
  ASSERT_EQ(
      bpf_map_update_elem(skeleton_->active_slot_fd(), &zero, &start, BPF_ANY),
      0);
  EXPECT_EQ(*table_->ActiveSlot(), 1u);
  absl::StatusOr<uint32_t> swapped = table_->SwapGeneration();
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_EQ(*swapped, 7u);
  EXPECT_EQ(*table_->Generation(), 8u);
  EXPECT_EQ(*table_->ActiveSlot(), 0u);
  // Wrapping keeps the slots in turn.
  const __u32 last = 0xffffffffu;
  ASSERT_EQ(
      bpf_map_update_elem(skeleton_->active_slot_fd(), &zero, &last, BPF_ANY),
      0);
  EXPECT_EQ(*table_->Swap(), 1u);
  EXPECT_EQ(*table_->Generation(), 0u);
  EXPECT_EQ(*table_->ActiveSlot(), 0u);
}

TEST(KernelTimeToWallTimeTest, NowMapsToNow) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t now_ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000u + ts.tv_nsec;
  const absl::Duration off = KernelTimeToWallTime(now_ns) - absl::Now();
  EXPECT_LT(absl::AbsDuration(off), absl::Milliseconds(100));
}

}  // namespace
}  // namespace weir::bpf
