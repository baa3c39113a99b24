#include "queryd/store/batch_validator.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {
namespace {

constexpr uint64_t kStart = 1700000000000000000;

// A valid batch: two flows (IPv4 and IPv6) on two interfaces, one loss.
weir::v1::FlowBatch ValidBatch() {
  weir::v1::FlowBatch batch;
  batch.set_node("node-a");
  batch.set_epoch(3);
  batch.set_seq(1);
  batch.set_interval_start_unix_nano(kStart);
  batch.set_interval_end_unix_nano(kStart + 1000000000);
  batch.set_collector_version("0.1.0");
  weir::v1::Interface* eth0 = batch.add_interfaces();
  eth0->set_ifindex(2);
  eth0->set_name("eth0");
  weir::v1::Interface* eth1 = batch.add_interfaces();
  eth1->set_ifindex(3);
  eth1->set_name("eth1");

  weir::v1::IngestFlow* v4 = batch.add_flows();
  v4->set_ifindex(2);
  v4->set_direction(weir::v1::DIRECTION_INGRESS);
  v4->set_protocol(6);
  v4->set_src_addr(std::string("\xc0\x00\x02\x07", 4));
  v4->set_dst_addr(std::string("\xc6\x33\x64\x02", 4));
  v4->set_src_port(40000);
  v4->set_dst_port(443);
  v4->set_tcp_flags(0x12);
  v4->set_packets(10);
  v4->set_bytes(1500);
  v4->set_first_seen_unix_nano(kStart + 1);
  v4->set_last_seen_unix_nano(kStart + 2);

  weir::v1::IngestFlow* v6 = batch.add_flows();
  v6->set_ifindex(3);
  v6->set_direction(weir::v1::DIRECTION_EGRESS);
  v6->set_protocol(58);
  v6->set_src_addr(std::string(16, '\x20'));
  v6->set_dst_addr(std::string(16, '\x21'));
  v6->set_icmp_type(128);
  v6->set_packets(5);
  v6->set_bytes(500);
  v6->set_first_seen_unix_nano(kStart + 3);
  v6->set_last_seen_unix_nano(kStart + 3);

  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_exported(15);
  counters->set_bytes_exported(2000);
  counters->set_packets_seen(16);
  counters->set_bytes_seen(2060);
  weir::v1::LossCount* loss = counters->add_losses();
  loss->set_reason(weir::v1::LOSS_REASON_NON_IP);
  loss->set_packets(1);
  loss->set_bytes(60);
  return batch;
}

struct Case {
  std::string name;
  std::function<void(weir::v1::FlowBatch*)> mutate;
  std::string message;
};

TEST(BatchValidatorTest, AcceptsAValidBatch) {
  EXPECT_TRUE(ValidateBatch(ValidBatch()).ok());
}

TEST(BatchValidatorTest, AcceptsIpv4MappedBesideFourBytes) {
  weir::v1::FlowBatch batch = ValidBatch();
  batch.mutable_flows(0)->set_dst_addr(
      std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x02", 16));
  EXPECT_TRUE(ValidateBatch(batch).ok());
}

TEST(BatchValidatorTest, AcceptsAnEmptyBatch) {
  weir::v1::FlowBatch batch = ValidBatch();
  batch.clear_flows();
  batch.mutable_counters()->set_packets_exported(0);
  batch.mutable_counters()->set_bytes_exported(0);
  EXPECT_TRUE(ValidateBatch(batch).ok());
}

TEST(BatchValidatorTest, NamesTheOffendingField) {
  using weir::v1::FlowBatch;
  const std::vector<Case> cases = {
      {"EmptyNode", [](FlowBatch* b) { b->clear_node(); },
       "node: must not be empty"},
      {"LongNode", [](FlowBatch* b) { b->set_node(std::string(256, 'n')); },
       "node: must be at most 255 bytes, got 256"},
      {"SeqZero", [](FlowBatch* b) { b->set_seq(0); },
       "seq: must be at least 1, got 0"},
      {"NoIntervalStart",
       [](FlowBatch* b) { b->set_interval_start_unix_nano(0); },
       "interval_start_unix_nano: must be set"},
      {"NoIntervalEnd", [](FlowBatch* b) { b->set_interval_end_unix_nano(0); },
       "interval_end_unix_nano: must be set"},
      {"IntervalReversed",
       [](FlowBatch* b) { b->set_interval_end_unix_nano(kStart - 1); },
       "interval_end_unix_nano: 1699999999999999999 is before "
       "interval_start_unix_nano 1700000000000000000"},
      {"IntervalPastInt64",
       [](FlowBatch* b) { b->set_interval_end_unix_nano(~0ull); },
       "interval_end_unix_nano: out of range (18446744073709551615 ns is "
       "after the year 2262)"},
      {"LongCollectorVersion",
       [](FlowBatch* b) { b->set_collector_version(std::string(300, 'v')); },
       "collector_version: must be at most 255 bytes, got 300"},
      {"EmptyInterfaceName",
       [](FlowBatch* b) { b->mutable_interfaces(1)->clear_name(); },
       "interfaces[1].name: must not be empty"},
      {"LongInterfaceName",
       [](FlowBatch* b) {
         b->mutable_interfaces(0)->set_name(std::string(256, 'i'));
       },
       "interfaces[0].name: must be at most 255 bytes, got 256"},
      {"InterfaceTwice",
       [](FlowBatch* b) { b->mutable_interfaces(1)->set_ifindex(2); },
       "interfaces[1].ifindex: 2 is also in interfaces[0]"},
      {"UnknownIfindex",
       [](FlowBatch* b) { b->mutable_flows(1)->set_ifindex(9); },
       "flows[1].ifindex: 9 is not in interfaces"},
      {"NoDirection",
       [](FlowBatch* b) {
         b->mutable_flows(0)->set_direction(weir::v1::DIRECTION_UNSPECIFIED);
       },
       "flows[0].direction: must be set"},
      {"UnknownDirection",
       [](FlowBatch* b) {
         b->mutable_flows(1)->set_direction(
             static_cast<weir::v1::Direction>(7));
       },
       "flows[1].direction: unknown value 7"},
      {"ProtocolTooBig",
       [](FlowBatch* b) { b->mutable_flows(0)->set_protocol(256); },
       "flows[0].protocol: must be at most 255, got 256"},
      {"SrcAddrLength",
       [](FlowBatch* b) { b->mutable_flows(1)->set_src_addr("12345"); },
       "flows[1].src_addr: must be 4 or 16 bytes, got 5"},
      {"EmptyDstAddr",
       [](FlowBatch* b) { b->mutable_flows(0)->clear_dst_addr(); },
       "flows[0].dst_addr: must be 4 or 16 bytes, got 0"},
      {"MixedFamilies",
       [](FlowBatch* b) {
         b->mutable_flows(0)->set_dst_addr(std::string(16, '\x20'));
       },
       "flows[0].dst_addr: IPv6 but src_addr is IPv4"},
      {"SrcPortTooBig",
       [](FlowBatch* b) { b->mutable_flows(0)->set_src_port(65536); },
       "flows[0].src_port: must be at most 65535, got 65536"},
      {"DstPortTooBig",
       [](FlowBatch* b) { b->mutable_flows(0)->set_dst_port(70000); },
       "flows[0].dst_port: must be at most 65535, got 70000"},
      {"IcmpTypeTooBig",
       [](FlowBatch* b) { b->mutable_flows(1)->set_icmp_type(256); },
       "flows[1].icmp_type: must be at most 255, got 256"},
      {"IcmpCodeTooBig",
       [](FlowBatch* b) { b->mutable_flows(1)->set_icmp_code(300); },
       "flows[1].icmp_code: must be at most 255, got 300"},
      {"TcpFlagsTooBig",
       [](FlowBatch* b) { b->mutable_flows(0)->set_tcp_flags(0x100); },
       "flows[0].tcp_flags: must be at most 255, got 256"},
      {"NoPackets",
       [](FlowBatch* b) {
         b->mutable_flows(1)->set_packets(0);
         b->mutable_counters()->set_packets_exported(10);
       },
       "flows[1].packets: must be at least 1"},
      {"NoFirstSeen",
       [](FlowBatch* b) { b->mutable_flows(0)->set_first_seen_unix_nano(0); },
       "flows[0].first_seen_unix_nano: must be set"},
      {"NoLastSeen",
       [](FlowBatch* b) { b->mutable_flows(0)->set_last_seen_unix_nano(0); },
       "flows[0].last_seen_unix_nano: must be set"},
      {"SeenReversed",
       [](FlowBatch* b) {
         b->mutable_flows(1)->set_last_seen_unix_nano(kStart + 2);
       },
       "flows[1].last_seen_unix_nano: 1700000000000000002 is before "
       "first_seen_unix_nano 1700000000000000003"},
      {"PacketsSumOverflows",
       [](FlowBatch* b) { b->mutable_flows(1)->set_packets(~0ull - 5); },
       "flows[1].packets: the sum over flows overflows 64 bits"},
      {"BytesSumOverflows",
       [](FlowBatch* b) { b->mutable_flows(1)->set_bytes(~0ull - 5); },
       "flows[1].bytes: the sum over flows overflows 64 bits"},
      {"PacketsExported",
       [](FlowBatch* b) { b->mutable_counters()->set_packets_exported(14); },
       "counters.packets_exported: 14 but flows[].packets sum to 15"},
      {"NoCounters", [](FlowBatch* b) { b->clear_counters(); },
       "counters.packets_exported: 0 but flows[].packets sum to 15"},
      {"BytesExported",
       [](FlowBatch* b) { b->mutable_counters()->set_bytes_exported(1); },
       "counters.bytes_exported: 1 but flows[].bytes sum to 2000"},
      {"LossWithoutReason",
       [](FlowBatch* b) {
         b->mutable_counters()->mutable_losses(0)->set_reason(
             weir::v1::LOSS_REASON_UNSPECIFIED);
       },
       "counters.losses[0].reason: must be set"},
      {"UnknownLossReason",
       [](FlowBatch* b) {
         b->mutable_counters()->mutable_losses(0)->set_reason(
             static_cast<weir::v1::LossReason>(99));
       },
       "counters.losses[0].reason: unknown value 99"},
      {"LossReasonTwice",
       [](FlowBatch* b) {
         *b->mutable_counters()->add_losses() = b->counters().losses(0);
       },
       "counters.losses[1].reason: LOSS_REASON_NON_IP is also in "
       "counters.losses[0]"},
  };
  for (const Case& c : cases) {
    weir::v1::FlowBatch batch = ValidBatch();
    c.mutate(&batch);
    const absl::Status status = ValidateBatch(batch);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(status.message(), c.message) << c.name;
  }
}

TEST(FlowBoundTest, IsALinkRateTimesTheSpanPlusASecondUpToADay) {
  constexpr uint64_t kSecondNs = 1000000000;
  const struct {
    uint64_t span_ns;
    uint64_t bytes;
  } cases[] = {
      {0, uint64_t{1} << 38},                    // one timestamp: the slack
      {kSecondNs, uint64_t{1} << 39},            // 1 s + 1 s
      {kSecondNs / 2, (uint64_t{3} << 38) / 2},  // 1.5 s
      {3, (uint64_t{1} << 38) + 824},            // 1.000000003 s, rounded down
      {86399 * kSecondNs, (uint64_t{1} << 38) * 86400},
      {86400 * kSecondNs, (uint64_t{1} << 38) * 86400},  // capped at a day
      {~uint64_t{0}, (uint64_t{1} << 38) * 86400},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FlowBound(kMaxLinkBytesPerSecond, c.span_ns), c.bytes)
        << c.span_ns;
  }
  EXPECT_EQ(FlowBound(kMaxLinkPacketsPerSecond, 0), uint64_t{1} << 33);
  // A record can never come near wrapping a 64-bit sum on its own.
  EXPECT_LT(FlowBound(kMaxLinkBytesPerSecond, ~uint64_t{0}), uint64_t{1} << 55);
  EXPECT_LT(FlowBound(kMaxLinkPacketsPerSecond, ~uint64_t{0}),
            uint64_t{1} << 50);
}

// Sets flows[0]'s packets or bytes and keeps the counters consistent.
void SetFlow0(weir::v1::FlowBatch* b, uint64_t packets, uint64_t bytes) {
  b->mutable_flows(0)->set_packets(packets);
  b->mutable_flows(0)->set_bytes(bytes);
  b->mutable_counters()->set_packets_exported(packets + 5);
  b->mutable_counters()->set_bytes_exported(bytes + 500);
}

TEST(BatchValidatorTest, AcceptsAFlowAtItsBound) {
  // flows[0] spans 1 ns: 1.000000001 s at the link rates.
  weir::v1::FlowBatch batch = ValidBatch();
  SetFlow0(&batch, FlowBound(kMaxLinkPacketsPerSecond, 1),
           FlowBound(kMaxLinkBytesPerSecond, 1));
  EXPECT_TRUE(ValidateBatch(batch).ok()) << ValidateBatch(batch);
}

TEST(BatchValidatorTest, RefusesAFlowPastWhatALinkCarriesNamingTheField) {
  using weir::v1::FlowBatch;
  const uint64_t max_packets = FlowBound(kMaxLinkPacketsPerSecond, 1);
  const uint64_t max_bytes = FlowBound(kMaxLinkBytesPerSecond, 1);
  const std::vector<Case> cases = {
      {"packets one past",
       [&](FlowBatch* b) { SetFlow0(b, max_packets + 1, 1500); },
       absl::StrCat("flows[0].packets: ", max_packets + 1,
                    " is more than a link of 2^33 packets/s carries in "
                    "1.000000001s (last_seen - first_seen + 1s, at most 1 "
                    "day): at most ",
                    max_packets)},
      {"bytes one past", [&](FlowBatch* b) { SetFlow0(b, 10, max_bytes + 1); },
       absl::StrCat("flows[0].bytes: ", max_bytes + 1,
                    " is more than a link of 2^38 bytes/s (2.2 Tb/s) carries "
                    "in 1.000000001s (last_seen - first_seen + 1s, at most 1 "
                    "day): at most ",
                    max_bytes)},
      {"2^63 packets",
       [](FlowBatch* b) { SetFlow0(b, uint64_t{1} << 63, 1500); },
       absl::StrCat("flows[0].packets: 9223372036854775808 is more than a "
                    "link of 2^33 packets/s carries in 1.000000001s "
                    "(last_seen - first_seen + 1s, at most 1 day): at most ",
                    max_packets)},
      {"loss packets",
       [](FlowBatch* b) {
         b->mutable_counters()->mutable_losses(0)->set_packets(uint64_t{1}
                                                               << 63);
       },
       absl::StrCat("counters.losses[0].packets: must be at most ",
                    FlowBound(kMaxLinkPacketsPerSecond, kMaxFlowSpanNanos),
                    ", got 9223372036854775808")},
      {"loss bytes",
       [](FlowBatch* b) {
         b->mutable_counters()->mutable_losses(0)->set_bytes(~uint64_t{0});
       },
       absl::StrCat("counters.losses[0].bytes: must be at most ",
                    FlowBound(kMaxLinkBytesPerSecond, kMaxFlowSpanNanos),
                    ", got 18446744073709551615")},
  };
  for (const Case& c : cases) {
    weir::v1::FlowBatch batch = ValidBatch();
    c.mutate(&batch);
    const absl::Status status = ValidateBatch(batch);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(status.message(), c.message) << c.name;
  }
}

}  // namespace
}  // namespace weir::store
