#include "bpf/testing/packet_builder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace weir::bpf::testing {
namespace {

uint16_t At16(const std::vector<uint8_t>& v, size_t off) {
  return static_cast<uint16_t>(v[off] << 8 | v[off + 1]);
}

TEST(PacketBuilderTest, Ipv4TcpLengthsAndProtocols) {
  std::vector<uint8_t> frame = PacketBuilder()
                                   .Ethernet()
                                   .Ipv4("192.0.2.1", "198.51.100.2")
                                   .Tcp(40000, 443, kTcpSyn)
                                   .Payload(10)
                                   .Build();
  ASSERT_EQ(frame.size(), 14u + 20 + 20 + 10);
  EXPECT_EQ(At16(frame, 12), kEthertypeIpv4);
  EXPECT_EQ(frame[14], 0x45);
  EXPECT_EQ(At16(frame, 16), 20 + 20 + 10);  // total length
  EXPECT_EQ(frame[14 + 9], 6);               // protocol
  EXPECT_EQ(frame[26], 192);                 // source address
  EXPECT_EQ(At16(frame, 34), 40000);         // source port
  EXPECT_EQ(frame[34 + 12], 5 << 4);         // data offset
  EXPECT_EQ(frame[34 + 13], kTcpSyn);
}

TEST(PacketBuilderTest, Ipv4HeaderChecksumVerifies) {
  std::vector<uint8_t> frame = PacketBuilder()
                                   .Ethernet()
                                   .Ipv4("192.0.2.1", "192.0.2.2")
                                   .WithIpv4Options(8)
                                   .Udp(1, 2)
                                   .Build();
  uint32_t sum = 0;
  for (size_t i = 14; i < 14 + 28; i += 2) sum += At16(frame, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
  EXPECT_EQ(frame[14], 0x47);  // IHL 7
}

TEST(PacketBuilderTest, VlanTagsChainEthertypes) {
  std::vector<uint8_t> frame = PacketBuilder()
                                   .Ethernet()
                                   .Vlan(10, kEthertypeQinQ)
                                   .Vlan(20)
                                   .Ipv6("2001:db8::1", "2001:db8::2")
                                   .Udp(1, 2)
                                   .Build();
  ASSERT_EQ(frame.size(), 14u + 4 + 4 + 40 + 8);
  EXPECT_EQ(At16(frame, 12), kEthertypeQinQ);
  EXPECT_EQ(At16(frame, 14), 10);
  EXPECT_EQ(At16(frame, 16), kEthertypeVlan);
  EXPECT_EQ(At16(frame, 18), 20);
  EXPECT_EQ(At16(frame, 20), kEthertypeIpv6);
  EXPECT_EQ(At16(frame, 22 + 4), 8);  // payload length
  EXPECT_EQ(frame[22 + 6], 17);       // next header
}

TEST(PacketBuilderTest, Ipv6ExtensionHeadersChain) {
  std::vector<uint8_t> frame = PacketBuilder()
                                   .Ethernet()
                                   .Ipv6("2001:db8::1", "2001:db8::2")
                                   .Ipv6Extension(0, 16)
                                   .Ipv6Fragment(0, true)
                                   .Ipv6Extension(51, 16)
                                   .Tcp(1, 2, kTcpAck)
                                   .Build();
  ASSERT_EQ(frame.size(), 14u + 40 + 16 + 8 + 16 + 20);
  EXPECT_EQ(frame[14 + 6], 0);    // IPv6 -> hop-by-hop
  EXPECT_EQ(frame[54], 44);       // hop-by-hop -> fragment
  EXPECT_EQ(frame[55], 1);        // 16 bytes
  EXPECT_EQ(frame[70], 51);       // fragment -> AH
  EXPECT_EQ(At16(frame, 72), 1);  // offset 0, M
  EXPECT_EQ(frame[78], 6);        // AH -> TCP
  EXPECT_EQ(frame[79], 2);        // AH length: 16 / 4 - 2
  EXPECT_EQ(At16(frame, 18), 16 + 8 + 16 + 20);
}

TEST(PacketBuilderTest, TruncateCutsTheFrame) {
  std::vector<uint8_t> frame = PacketBuilder()
                                   .Ethernet()
                                   .Ipv4("192.0.2.1", "192.0.2.2")
                                   .Udp(1, 2)
                                   .TruncateTo(20)
                                   .Build();
  EXPECT_EQ(frame.size(), 20u);
  EXPECT_EQ(At16(frame, 16),
            28);  // the length still describes the whole packet
}

}  // namespace
}  // namespace weir::bpf::testing
