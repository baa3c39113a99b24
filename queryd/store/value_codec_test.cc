#include "queryd/store/value_codec.h"

#include <string>

#include "gtest/gtest.h"
#include "queryd/store/totals_test_util.h"

namespace weir::store {
namespace {

FlowRecord SampleFlow() {
  FlowRecord flow;
  flow.ifindex = 7;
  flow.ifname = "veth1a2b";
  flow.direction = weir::v1::DIRECTION_EGRESS;
  flow.protocol = 6;
  AddressFromBytes(std::string("\xc0\x00\x02\x07", 4), &flow.src_addr);
  AddressFromBytes(std::string("\xc6\x33\x64\x02", 4), &flow.dst_addr);
  flow.src_port = 40000;
  flow.dst_port = 443;
  flow.icmp_type = 3;
  flow.icmp_code = 4;
  flow.fragment = true;
  flow.tcp_flags = 0x1b;
  flow.packets = 12;
  flow.bytes = 9000;
  flow.first_seen_unix_nano = 1700000000000000001;
  return flow;
}

TEST(ValueCodecTest, RawValueRoundTrips) {
  const FlowRecord in = SampleFlow();
  std::string value;
  AppendRawValue(in, &value);
  EXPECT_EQ(value.size(), 72 + in.ifname.size());
  EXPECT_EQ(value[0], kRawValueVersion);
  FlowRecord out;
  ASSERT_TRUE(DecodeRawValue(value, &out));
  EXPECT_EQ(out.ifindex, in.ifindex);
  EXPECT_EQ(out.ifname, in.ifname);
  EXPECT_EQ(out.direction, in.direction);
  EXPECT_EQ(out.protocol, in.protocol);
  EXPECT_EQ(out.src_addr, in.src_addr);
  EXPECT_EQ(out.dst_addr, in.dst_addr);
  EXPECT_EQ(out.src_port, in.src_port);
  EXPECT_EQ(out.dst_port, in.dst_port);
  EXPECT_EQ(out.icmp_type, in.icmp_type);
  EXPECT_EQ(out.icmp_code, in.icmp_code);
  EXPECT_EQ(out.fragment, in.fragment);
  EXPECT_EQ(out.tcp_flags, in.tcp_flags);
  EXPECT_EQ(out.packets, in.packets);
  EXPECT_EQ(out.bytes, in.bytes);
  EXPECT_EQ(out.first_seen_unix_nano, in.first_seen_unix_nano);
  EXPECT_TRUE(out.ipv4());
}

TEST(ValueCodecTest, RawValueRejectsOtherVersionsAndSizes) {
  std::string value;
  AppendRawValue(SampleFlow(), &value);
  FlowRecord out;
  std::string other_version = value;
  other_version[0] = 2;
  EXPECT_FALSE(DecodeRawValue(other_version, &out));
  EXPECT_FALSE(DecodeRawValue(value.substr(0, value.size() - 1), &out));
  EXPECT_FALSE(DecodeRawValue(value + "x", &out));
  EXPECT_FALSE(DecodeRawValue("", &out));
}

TEST(ValueCodecTest, RawBlockRoundTripsAndRefusesDamage) {
  FlowRecord a = SampleFlow();
  FlowRecord b = SampleFlow();
  b.ifname = "";
  b.src_port = 53;
  FlowRecord c = SampleFlow();
  c.ifname = std::string(255, 'e');
  RawBlockBuilder builder;
  builder.Add(1700000000000000100, 4, a);
  builder.Add(1700000000000000100, 9, b);
  builder.Add(1700000000000000200, 0, c);
  const std::string value(builder.value());
  EXPECT_EQ(value.size(), 5 + 3 * (12 + 72) + a.ifname.size() + 255);
  RawBlock block;
  ASSERT_TRUE(block.Parse(value));
  ASSERT_EQ(block.size(), 3u);
  EXPECT_EQ(block.last_seen(1), 1700000000000000100u);
  EXPECT_EQ(block.index(1), 9u);
  EXPECT_EQ(block.index(2), 0u);
  FlowRecord out;
  ASSERT_TRUE(block.Flow(0, &out));
  EXPECT_EQ(out.ifname, a.ifname);
  EXPECT_EQ(out.last_seen_unix_nano, 1700000000000000100u);
  EXPECT_EQ(out.bytes, a.bytes);
  ASSERT_TRUE(block.Flow(1, &out));
  EXPECT_EQ(out.ifname, "");
  EXPECT_EQ(out.src_port, 53);
  ASSERT_TRUE(block.Flow(2, &out));
  EXPECT_EQ(out.ifname, c.ifname);
  EXPECT_EQ(out.last_seen_unix_nano, 1700000000000000200u);

  for (size_t cut = 0; cut < value.size(); ++cut) {
    EXPECT_FALSE(block.Parse(value.substr(0, cut))) << cut;
  }
  EXPECT_FALSE(block.Parse(value + "x"));
  std::string bad = value;
  bad[0] = kRawValueVersion;  // a flow's value, not a block
  EXPECT_FALSE(block.Parse(bad));
  bad = value;
  bad[1] = '\x7f';  // a count far beyond the bytes
  EXPECT_FALSE(block.Parse(bad));
  // A record's own version byte is checked when the flow is read.
  bad = value;
  bad[5 + 12] = 9;
  ASSERT_TRUE(block.Parse(bad));
  EXPECT_FALSE(block.Flow(0, &out));
  EXPECT_TRUE(block.Flow(1, &out));

  builder.Reset();
  EXPECT_TRUE(builder.empty());
  ASSERT_TRUE(block.Parse(builder.value()));
  EXPECT_EQ(block.size(), 0u);
}

TEST(ValueCodecTest, TotalsValueRoundTrips) {
  const Totals in = {1, 2, 3, 4, 5, true};
  std::string value;
  AppendTotalsValue(in, &value);
  EXPECT_EQ(value.size(), kTotalsValueSize);
  Totals out;
  ASSERT_TRUE(DecodeTotalsValue(value, &out));
  ExpectTotals(out, {1, 2, 3, 4, 5, true});
  RollupKind kind;
  ASSERT_TRUE(PeekRollupKind(value, &kind));
  EXPECT_EQ(kind, RollupKind::kTotals);
  CounterVector counters;
  bool damaged;
  EXPECT_FALSE(DecodeCountersValue(value, &counters, &damaged));
}

TEST(ValueCodecTest, CountersValueRoundTrips) {
  const CounterVector in = {10, 20, 30, 40, 0, 0, 5, 6};
  std::string value;
  AppendCountersValue(in, /*damaged=*/false, &value);
  CounterVector out;
  bool damaged = true;
  ASSERT_TRUE(DecodeCountersValue(value, &out, &damaged));
  EXPECT_EQ(out, in);
  EXPECT_FALSE(damaged);
  RollupKind kind;
  ASSERT_TRUE(PeekRollupKind(value, &kind));
  EXPECT_EQ(kind, RollupKind::kCounters);
  Totals totals;
  EXPECT_FALSE(DecodeTotalsValue(value, &totals));
  EXPECT_FALSE(
      DecodeCountersValue(value.substr(0, value.size() - 3), &out, &damaged));
}

TEST(ValueCodecTest, CountersVectorHasSlotsPerLossReason) {
  weir::v1::Counters proto;
  proto.set_packets_seen(100);
  proto.set_bytes_seen(1000);
  proto.set_packets_exported(90);
  proto.set_bytes_exported(900);
  weir::v1::LossCount* loss = proto.add_losses();
  loss->set_reason(weir::v1::LOSS_REASON_MAP_FULL);  // 8
  loss->set_packets(10);
  loss->set_bytes(100);
  const CounterVector v = CountersFromProto(proto);
  ASSERT_EQ(v.size(), LossBytesSlot(8) + 1);
  EXPECT_EQ(v[LossPacketsSlot(8)], 10u);
  EXPECT_EQ(v[LossBytesSlot(8)], 100u);
  EXPECT_EQ(v[LossPacketsSlot(1)], 0u);

  const NodeCounters counters = CountersFromVector(v);
  EXPECT_EQ(counters.packets_seen, 100u);
  EXPECT_EQ(counters.bytes_seen, 1000u);
  EXPECT_EQ(counters.packets_exported, 90u);
  EXPECT_EQ(counters.bytes_exported, 900u);
  ASSERT_EQ(counters.losses.size(), 1u);
  EXPECT_EQ(counters.losses[0].reason, weir::v1::LOSS_REASON_MAP_FULL);
  EXPECT_EQ(counters.losses[0].packets, 10u);
  EXPECT_EQ(counters.lost_packets(), 10u);
}

TEST(ValueCodecTest, AddCountersGrowsTheShorterVector) {
  CounterVector to = {1, 2};
  AddCounters({10, 20, 30, 40}, &to);
  EXPECT_EQ(to, (CounterVector{11, 22, 30, 40}));
  AddCounters({1}, &to);
  EXPECT_EQ(to, (CounterVector{12, 22, 30, 40}));
}

TEST(ValueCodecTest, AddCountersSaturatesInsteadOfWrapping) {
  constexpr uint64_t kHalf = uint64_t{1} << 63;
  CounterVector to = {kHalf, 5};
  AddCounters({kHalf, 7}, &to);
  EXPECT_EQ(to, (CounterVector{~uint64_t{0}, 12}));
  AddCounters({1, 1}, &to);
  EXPECT_EQ(to, (CounterVector{~uint64_t{0}, 13}));
}

TEST(ValueCodecTest, NodeStateRoundTrips) {
  NodeState in;
  in.id = 3;
  in.epoch = 7;
  in.seq = 99;
  in.gaps = 2;
  in.stale_batches = 1;
  in.batches = 98;
  in.flows = 12345;
  in.first_seen_unix_nano = 11;
  in.last_seen_unix_nano = 22;
  in.version = "weir-collector 0.1.0";
  in.counters = {1, 2, 3, 4, 5, 6};
  std::string value;
  AppendNodeState(in, &value);
  EXPECT_EQ(value[0], kNodeStateVersion);
  NodeState out;
  ASSERT_TRUE(DecodeNodeState(value, &out));
  EXPECT_EQ(out.id, in.id);
  EXPECT_EQ(out.epoch, in.epoch);
  EXPECT_EQ(out.seq, in.seq);
  EXPECT_EQ(out.gaps, in.gaps);
  EXPECT_EQ(out.stale_batches, in.stale_batches);
  EXPECT_EQ(out.batches, in.batches);
  EXPECT_EQ(out.flows, in.flows);
  EXPECT_EQ(out.first_seen_unix_nano, in.first_seen_unix_nano);
  EXPECT_EQ(out.last_seen_unix_nano, in.last_seen_unix_nano);
  EXPECT_EQ(out.version, in.version);
  EXPECT_EQ(out.counters, in.counters);
  EXPECT_FALSE(DecodeNodeState(value.substr(0, value.size() - 1), &out));
  std::string other_version = value;
  other_version[0] = 2;
  EXPECT_FALSE(DecodeNodeState(other_version, &out));
}

TEST(ValueCodecTest, PendingBatchRoundTripsAndRefusesDamage) {
  PendingBatch in;
  in.interval_start_unix_nano = 1700000000000000000;
  in.raw_flows = 1000;
  in.min_last_seen_unix_nano = 1700000000000000001;
  in.max_last_seen_unix_nano = 1700000000999999999;
  in.counters = {10, 1500, 10, 1500};
  std::string value;
  AppendPendingBatch(in, &value);
  EXPECT_EQ(value.size(), 1 + 4 * 8 + 1 + 4 * 8);
  EXPECT_EQ(value[0], kPendingBatchVersion);
  PendingBatch out;
  ASSERT_TRUE(DecodePendingBatch(value, &out));
  EXPECT_EQ(out.interval_start_unix_nano, in.interval_start_unix_nano);
  EXPECT_EQ(out.raw_flows, in.raw_flows);
  EXPECT_EQ(out.min_last_seen_unix_nano, in.min_last_seen_unix_nano);
  EXPECT_EQ(out.max_last_seen_unix_nano, in.max_last_seen_unix_nano);
  EXPECT_EQ(out.counters, in.counters);
  EXPECT_FALSE(DecodePendingBatch(value.substr(0, value.size() - 1), &out));
  EXPECT_FALSE(DecodePendingBatch(value + "x", &out));
  std::string other_version = value;
  other_version[0] = 2;
  EXPECT_FALSE(DecodePendingBatch(other_version, &out));
}

}  // namespace
}  // namespace weir::store
