#include "queryd/store/rollup_buffer.h"

#include <cstdint>
#include <string>
#include <tuple>

#include "absl/hash/hash_testing.h"
#include "gtest/gtest.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/value_codec.h"

namespace weir::store {
namespace {

constexpr uint64_t kNs = 1000000000;
// 2026-01-01 00:00:00 UTC, an hour start.
constexpr uint64_t kHourSec = 1767225600;
// Cutoffs that keep everything.
constexpr Cutoffs kKeepAll = {0, 0, 0};

Address V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

FlowRecord Flow(uint64_t last_seen_sec, Address src, Address dst,
                uint16_t src_port, uint16_t dst_port, uint64_t bytes) {
  FlowRecord flow;
  flow.ifname = "eth0";
  flow.direction = weir::v1::DIRECTION_EGRESS;
  flow.protocol = 6;
  flow.src_addr = src;
  flow.dst_addr = dst;
  flow.src_port = src_port;
  flow.dst_port = dst_port;
  flow.packets = bytes / 100;
  flow.bytes = bytes;
  flow.first_seen_unix_nano = (last_seen_sec - 1) * kNs;
  flow.last_seen_unix_nano = last_seen_sec * kNs;
  return flow;
}

TEST(TiedKeyTest, KeysCompareAndHashByTheirFields) {
  const Address a = V4(192, 0, 2, 1);
  const Address b = V4(192, 0, 2, 2);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      PairKey{60, a, b},
      PairKey{60, b, a},
      PairKey{120, a, b},
  }));
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      InterfaceKey{60, 1, 1, "eth0"},
      InterfaceKey{60, 1, 2, "eth0"},
      InterfaceKey{60, 2, 1, "eth0"},
      InterfaceKey{60, 1, 1, "eth1"},
  }));
  EXPECT_EQ((PortKey{60, 6, 443}), (PortKey{60, 6, 443}));
  EXPECT_NE((PortKey{60, 6, 443}), (PortKey{60, 17, 443}));
  // Ordered by bucket first, then the fields in key order.
  EXPECT_LT((PortKey{60, 17, 1}), (PortKey{120, 6, 1}));
  EXPECT_LT((PortKey{60, 6, 2}), (PortKey{60, 17, 1}));
  EXPECT_LT((AddressKey{60, a}), (AddressKey{60, b}));
  EXPECT_LT((ProtocolKey{60, 6}), (ProtocolKey{60, 17}));
}

TEST(BaseSumsTest, AFlowFeedsEveryBaseViewOnce) {
  BaseSums sums;
  const FlowRecord flow = Flow(kHourSec + 61, V4(192, 0, 2, 1),
                               V4(198, 51, 100, 2), 40000, 443, 1500);
  const Totals totals = {1500, 15, 1, 0, 0, false};
  sums.Add(kHourSec + 60, flow, 3, totals);
  EXPECT_EQ(sums.size(), 4u);
  const Totals& pair =
      sums.pair.at({kHourSec + 60, flow.src_addr, flow.dst_addr});
  EXPECT_EQ(pair.bytes, 1500u);
  EXPECT_EQ(pair.packets, 15u);
  EXPECT_EQ(pair.flows, 1u);
  EXPECT_EQ(sums.src_port.at({kHourSec + 60, 6, 40000}).bytes, 1500u);
  EXPECT_EQ(sums.dst_port.at({kHourSec + 60, 6, 443}).bytes, 1500u);
  EXPECT_EQ(sums.interface
                .at({kHourSec + 60, 3,
                     static_cast<uint8_t>(weir::v1::DIRECTION_EGRESS), "eth0"})
                .bytes,
            1500u);
}

TEST(BaseSumsTest, AddAllSumsEqualKeysAndKeepsOthers) {
  const Address a = V4(192, 0, 2, 1);
  const Address b = V4(192, 0, 2, 2);
  BaseSums one;
  BaseSums two;
  one.Add(60, Flow(61, a, b, 1000, 80, 100), 1, {100, 1, 1, 10, 20, false});
  two.Add(60, Flow(61, a, b, 1001, 80, 300), 1, {300, 3, 1, 5, 30, false});
  one.AddAll(two);
  // One pair, one dst port and one interface; two source ports.
  EXPECT_EQ(one.pair.size(), 1u);
  EXPECT_EQ(one.dst_port.size(), 1u);
  EXPECT_EQ(one.interface.size(), 1u);
  EXPECT_EQ(one.src_port.size(), 2u);
  const Totals& pair = one.pair.at({60, a, b});
  EXPECT_EQ(pair.bytes, 400u);
  EXPECT_EQ(pair.packets, 4u);
  EXPECT_EQ(pair.flows, 2u);
  EXPECT_EQ(pair.first_seen_unix_nano, 5u);
  EXPECT_EQ(pair.last_seen_unix_nano, 30u);
  EXPECT_EQ(one.src_port.at({60, 6, 1001}).bytes, 300u);
}

// Where AddFlow puts a flow, by the tiers' cutoffs.
struct AddFlowCase {
  std::string name;
  Cutoffs cutoff_sec;
  bool kept;
  bool in_minute;
  bool in_hour_only;
  bool bufferable;
};

class AddFlowTest : public testing::TestWithParam<AddFlowCase> {};

TEST_P(AddFlowTest, PutsTheFlowInItsBaseTier) {
  const AddFlowCase& c = GetParam();
  // Last seen at 00:10:05 of the hour.
  const FlowRecord flow =
      Flow(kHourSec + 605, V4(192, 0, 2, 1), V4(192, 0, 2, 2), 1, 2, 700);
  RollupBuffer buffer;
  EXPECT_EQ(AddFlow(flow, 1, c.cutoff_sec, &buffer), c.kept);
  EXPECT_EQ(Bufferable(flow, c.cutoff_sec), c.bufferable);
  EXPECT_EQ(buffer.minute.size(), c.in_minute ? 4u : 0u);
  EXPECT_EQ(buffer.hour_only.size(), c.in_hour_only ? 4u : 0u);
  if (c.in_minute) {
    // By minute bucket.
    const Totals& t =
        buffer.minute.pair.at({kHourSec + 600, flow.src_addr, flow.dst_addr});
    EXPECT_EQ(t.bytes, 700u);
    EXPECT_EQ(t.packets, 7u);
    EXPECT_EQ(t.flows, 1u);
    EXPECT_EQ(t.first_seen_unix_nano, flow.first_seen_unix_nano);
    EXPECT_EQ(t.last_seen_unix_nano, flow.last_seen_unix_nano);
  }
  if (c.in_hour_only) {
    // By hour bucket.
    EXPECT_EQ(buffer.hour_only.pair.at({kHourSec, flow.src_addr, flow.dst_addr})
                  .bytes,
              700u);
  }
}

constexpr int kM = static_cast<int>(Tier::kMinute);

Cutoffs With(uint64_t minute, uint64_t hour) {
  Cutoffs c = {0, 0, 0};
  c[kM] = minute;
  c[static_cast<int>(Tier::kHour)] = hour;
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AddFlowTest,
    testing::Values(
        AddFlowCase{"BothTiersKeepIt", kKeepAll, true, true, false, true},
        AddFlowCase{"MinuteCutoffAtItsBucket", With(kHourSec + 600, kHourSec),
                    true, true, false, true},
        AddFlowCase{"OnlyTheHourKeepsIt", With(kHourSec + 660, kHourSec), true,
                    false, true, true},
        AddFlowCase{"NeitherKeepsIt", With(kHourSec + 660, kHourSec + 3600),
                    false, false, false, false},
        // m1 keeps it and h1 does not (an hour retention shorter than the
        // minute one): summed by minute, but not for the buffer.
        AddFlowCase{"MinuteOnly", With(kHourSec, kHourSec + 3600), true, true,
                    false, false}),
    [](const testing::TestParamInfo<AddFlowCase>& info) {
      return info.param.name;
    });

TEST(CounterRollupsTest, OneEntryPerTierBucketAtOrAfterItsCutoff) {
  CounterVector counters(4, 0);
  counters[0] = 10;
  counters[1] = 1000;
  const uint64_t interval_start = (kHourSec + 125) * kNs;
  CounterSums sums;
  AddCounterRollups(counters, interval_start, 7, kKeepAll, &sums);
  AddCounterRollups(counters, interval_start, 7, kKeepAll, &sums);
  ASSERT_EQ(sums.size(), 2u);
  RollupKey key;
  key.view = View::kNodeCounters;
  key.node_id = 7;
  key.bucket_start_sec = kHourSec + 120;
  const CounterVector& minute =
      sums.counters[RollupIndex(Tier::kMinute)].at(EncodeRollupKey(key));
  EXPECT_EQ(minute[0], 20u);
  EXPECT_EQ(minute[1], 2000u);
  key.bucket_start_sec = kHourSec;
  EXPECT_EQ(sums.counters[RollupIndex(Tier::kHour)].at(EncodeRollupKey(key))[0],
            20u);

  // Past m1's cutoff: h1 only.
  CounterSums hour_only;
  AddCounterRollups(counters, interval_start, 7, With(kHourSec + 180, 0),
                    &hour_only);
  EXPECT_TRUE(hour_only.counters[RollupIndex(Tier::kMinute)].empty());
  EXPECT_EQ(hour_only.counters[RollupIndex(Tier::kHour)].size(), 1u);
}

TEST(RollupBufferTest, AddAllSumsBuffersAndKeepsTheirPendingBatches) {
  const Address a = V4(192, 0, 2, 1);
  const Address b = V4(192, 0, 2, 2);
  RollupBuffer one;
  RollupBuffer two;
  AddFlow(Flow(kHourSec + 5, a, b, 1, 2, 100), 1, kKeepAll, &one);
  AddFlow(Flow(kHourSec + 6, a, b, 1, 2, 200), 2, kKeepAll, &two);
  one.pending.push_back("p1");
  one.raw_from_ns = 50;
  two.pending.push_back("p2");
  two.raw_from_ns = 40;
  one.AddAll(two);
  // The pair, ports sum; the interfaces (two nodes) stay apart.
  EXPECT_EQ(one.minute.pair.size(), 1u);
  EXPECT_EQ(one.minute.pair.at({kHourSec, a, b}).bytes, 300u);
  EXPECT_EQ(one.minute.interface.size(), 2u);
  EXPECT_EQ(one.size(), 5u);
  EXPECT_EQ(one.pending, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(one.raw_from_ns, 40u);
}

}  // namespace
}  // namespace weir::store
