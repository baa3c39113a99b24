#include "collector/batch_builder.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace weir::collector {
namespace {

void Mapped(const char* ipv4, __u32 (&out)[4]) {
  unsigned char bytes[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  inet_pton(AF_INET, ipv4, bytes + 12);
  std::memcpy(out, bytes, 16);
}

void V6(const char* ipv6, __u32 (&out)[4]) { inet_pton(AF_INET6, ipv6, out); }

bpf::FlowTable::Interval Interval() {
  bpf::FlowTable::Interval interval;
  bpf::FlowEntry udp{};
  udp.key.ifindex = 3;
  udp.key.direction = WEIR_DIRECTION_EGRESS;
  udp.key.ip_version = WEIR_IP_VERSION_4;
  udp.key.protocol = 17;
  Mapped("192.0.2.1", udp.key.src_addr);
  Mapped("198.51.100.2", udp.key.dst_addr);
  udp.key.src_port = 5000;
  udp.key.dst_port = 53;
  udp.value = {3, 300, 1000, 2000, 0, 0};
  bpf::FlowEntry frag{};
  frag.key.ifindex = 4;
  frag.key.direction = WEIR_DIRECTION_INGRESS;
  frag.key.ip_version = WEIR_IP_VERSION_6;
  frag.key.protocol = 6;
  frag.key.flags = WEIR_FLOW_F_FRAGMENT;
  V6("2001:db8::1", frag.key.src_addr);
  V6("2001:db8::2", frag.key.dst_addr);
  frag.value = {1, 1500, 0, 5000, 0x12, 0};  // first_seen 0 on this copy
  interval.flows = {udp, frag};
  interval.counters.by_index[WEIR_COUNTER_SEEN] = {6, 1900};
  interval.counters.by_index[WEIR_COUNTER_NON_IP] = {2, 100};
  return interval;
}

TEST(BatchBuilderTest, BuildsTheCompactBatchWithItsAccounting) {
  BatchHeader header{
      "node-a", 7, 42, absl::FromUnixSeconds(100), absl::FromUnixSeconds(101),
      "v"};
  const weir::v1::FlowBatch batch = BuildBatch(
      header, Interval(),
      [](uint32_t ifindex) { return "if" + std::to_string(ifindex); },
      [](uint64_t ns) { return absl::FromUnixNanos(1'000'000'000 + ns); });

  EXPECT_EQ(batch.node(), "node-a");
  EXPECT_EQ(batch.epoch(), 7u);
  EXPECT_EQ(batch.seq(), 42u);
  EXPECT_EQ(batch.interval_end_unix_nano(), 101'000'000'000u);
  ASSERT_EQ(batch.flows_size(), 2);
  const weir::v1::IngestFlow& udp = batch.flows(0);
  EXPECT_EQ(udp.src_addr(), std::string("\xc0\x00\x02\x01", 4));
  EXPECT_EQ(udp.dst_addr().size(), 4u);
  EXPECT_EQ(udp.direction(), weir::v1::DIRECTION_EGRESS);
  EXPECT_EQ(udp.dst_port(), 53u);
  EXPECT_EQ(udp.first_seen_unix_nano(), 1'000'001'000u);
  EXPECT_EQ(udp.last_seen_unix_nano(), 1'000'002'000u);
  const weir::v1::IngestFlow& frag = batch.flows(1);
  EXPECT_EQ(frag.src_addr().size(), 16u);
  EXPECT_TRUE(frag.fragment());
  EXPECT_EQ(frag.tcp_flags(), 0x12u);
  EXPECT_EQ(frag.first_seen_unix_nano(), frag.last_seen_unix_nano());

  ASSERT_EQ(batch.interfaces_size(), 2);
  for (const auto& interface : batch.interfaces()) {
    EXPECT_EQ(interface.name(), "if" + std::to_string(interface.ifindex()));
  }

  const weir::v1::Counters& c = batch.counters();
  EXPECT_EQ(c.packets_seen(), 6u);
  EXPECT_EQ(c.packets_exported(), 4u);
  EXPECT_EQ(c.bytes_exported(), 1800u);
  ASSERT_EQ(c.losses_size(), 1);
  EXPECT_EQ(c.losses(0).reason(), weir::v1::LOSS_REASON_NON_IP);
  EXPECT_EQ(c.packets_seen(), c.packets_exported() + c.losses(0).packets());
  EXPECT_EQ(c.bytes_seen(), c.bytes_exported() + c.losses(0).bytes());
}

}  // namespace
}  // namespace weir::collector
