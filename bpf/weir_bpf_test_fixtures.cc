#include "bpf/weir_bpf_test_fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bpf/testing/packet_builder.h"
#include "bpf/weir_flow.h"

namespace weir::bpf::fixtures {
namespace {

using ::weir::bpf::testing::kEthertypeArp;
using ::weir::bpf::testing::kEthertypeIpv4;
using ::weir::bpf::testing::kEthertypeQinQ;
using ::weir::bpf::testing::kEthertypeVlan;
using ::weir::bpf::testing::kTcpAck;
using ::weir::bpf::testing::kTcpFin;
using ::weir::bpf::testing::kTcpPsh;
using ::weir::bpf::testing::kTcpSyn;
using ::weir::bpf::testing::PacketBuilder;

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpv6 = 58;
constexpr uint8_t kGre = 47;
constexpr uint8_t kSctp = 132;
constexpr uint8_t kEsp = 50;
constexpr uint8_t kNoNextHeader = 59;

weir_flow_key WithIcmp(weir_flow_key key, uint8_t type, uint8_t code) {
  key.icmp_type = type;
  key.icmp_code = code;
  return key;
}

weir_flow_key AsFragment(weir_flow_key key) {
  key.flags |= WEIR_FLOW_F_FRAGMENT;
  return key;
}

std::string Address(const uint32_t addr[4], int version) {
  char text[INET6_ADDRSTRLEN] = {};
  if (version == 4) {
    inet_ntop(AF_INET, &addr[3], text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, addr, text, sizeof(text));
  }
  return text;
}

}  // namespace

weir_flow_key Key(int version, uint8_t protocol, const char* src,
                  const char* dst, uint16_t src_port, uint16_t dst_port) {
  weir_flow_key key = {};
  key.ifindex = kLoopbackIfindex;
  key.direction = WEIR_DIRECTION_INGRESS;
  key.ip_version = static_cast<uint8_t>(version);
  key.protocol = protocol;
  key.src_port = src_port;
  key.dst_port = dst_port;
  if (version == 4) {
    uint8_t* s = reinterpret_cast<uint8_t*>(key.src_addr);
    uint8_t* d = reinterpret_cast<uint8_t*>(key.dst_addr);
    s[10] = s[11] = d[10] = d[11] = 0xff;  // ::ffff:a.b.c.d
    inet_pton(AF_INET, src, s + 12);
    inet_pton(AF_INET, dst, d + 12);
  } else {
    inet_pton(AF_INET6, src, key.src_addr);
    inet_pton(AF_INET6, dst, key.dst_addr);
  }
  return key;
}

weir_flow_key AsEgress(weir_flow_key key) {
  key.direction = WEIR_DIRECTION_EGRESS;
  return key;
}

std::string KeyToString(const weir_flow_key& k) {
  return absl::StrCat(
      "{if ", k.ifindex, " dir ", k.direction, " v", k.ip_version, " proto ",
      k.protocol, " ", Address(k.src_addr, k.ip_version), ":", k.src_port,
      " -> ", Address(k.dst_addr, k.ip_version), ":", k.dst_port, " icmp ",
      k.icmp_type, "/", k.icmp_code, " flags ", k.flags, " pad ", k.pad, "}");
}

bool KeyLess(const weir_flow_key& a, const weir_flow_key& b) {
  return std::memcmp(&a, &b, sizeof(a)) < 0;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Input In(std::vector<uint8_t> frame, Hook hook) {
  Input input;
  input.frame = std::move(frame);
  input.hook = hook;
  return input;
}

Input Gso(std::vector<uint8_t> frame, uint32_t segs, uint32_t size) {
  Input input = In(std::move(frame));
  input.gso_segs = segs;
  input.gso_size = size;
  return input;
}

PacketBuilder V4() {
  return std::move(
      PacketBuilder().Ethernet().Ipv4("192.0.2.1", "198.51.100.2"));
}
PacketBuilder V6() {
  return std::move(
      PacketBuilder().Ethernet().Ipv6("2001:db8::1", "2001:db8::2"));
}

namespace {

// One ingress frame that becomes one flow of one packet of its size.
Case OneFlow(const char* name, const char* description,
             std::vector<uint8_t> frame, weir_flow_key key,
             uint32_t tcp_flags = 0) {
  const uint64_t bytes = frame.size();
  return Case{name,
              description,
              {In(std::move(frame))},
              {{key, 1, bytes, tcp_flags}},
              {}};
}

// One ingress frame that lands in no flow, counted under `reason`.
Case OneLoss(const char* name, const char* description,
             std::vector<uint8_t> frame, weir_counter_index reason) {
  const uint64_t bytes = frame.size();
  return Case{
      name, description, {In(std::move(frame))}, {}, {{reason, {1, bytes}}}};
}

}  // namespace

std::vector<Case> ParseCases() {
  std::vector<Case> cases;
  const weir_flow_key v4_tcp =
      Key(4, kTcp, "192.0.2.1", "198.51.100.2", 40000, 443);
  const weir_flow_key v4_udp =
      Key(4, kUdp, "192.0.2.1", "198.51.100.2", 5353, 53);
  const weir_flow_key v6_tcp =
      Key(6, kTcp, "2001:db8::1", "2001:db8::2", 40000, 443);
  const weir_flow_key v6_udp =
      Key(6, kUdp, "2001:db8::1", "2001:db8::2", 5353, 53);

  // --- L3 x L4.
  cases.push_back(OneFlow(
      "Ipv4Tcp", "IPv4 TCP SYN with payload: ports and flags",
      V4().Tcp(40000, 443, kTcpSyn).Payload(100).Build(), v4_tcp, kTcpSyn));
  cases.push_back(OneFlow("Ipv4Udp", "IPv4 UDP: ports",
                          V4().Udp(5353, 53).Payload(30).Build(), v4_udp));
  cases.push_back(
      OneFlow("Ipv4IcmpEcho", "IPv4 ICMP echo request: type 8 code 0, ports 0",
              V4().Icmp(8, 0).Payload(56).Build(),
              WithIcmp(Key(4, kIcmp, "192.0.2.1", "198.51.100.2"), 8, 0)));
  cases.push_back(OneFlow(
      "Ipv4IcmpUnreachable", "IPv4 ICMP port unreachable: type 3 code 3",
      V4().Icmp(3, 3).Payload(28).Build(),
      WithIcmp(Key(4, kIcmp, "192.0.2.1", "198.51.100.2"), 3, 3)));
  cases.push_back(OneFlow("Ipv4Gre", "IPv4 GRE (47): other protocol, ports 0",
                          V4().WithIpProtocol(kGre).Payload(40).Build(),
                          Key(4, kGre, "192.0.2.1", "198.51.100.2")));
  cases.push_back(OneFlow("Ipv4Sctp",
                          "IPv4 SCTP (132): other protocol, ports 0",
                          V4().WithIpProtocol(kSctp).Payload(40).Build(),
                          Key(4, kSctp, "192.0.2.1", "198.51.100.2")));
  cases.push_back(OneFlow("Ipv4Esp", "IPv4 ESP (50): other protocol, ports 0",
                          V4().WithIpProtocol(kEsp).Payload(40).Build(),
                          Key(4, kEsp, "192.0.2.1", "198.51.100.2")));
  cases.push_back(
      OneFlow("Ipv6Tcp", "IPv6 TCP ACK|PSH: ports and flags",
              V6().Tcp(40000, 443, kTcpAck | kTcpPsh).Payload(200).Build(),
              v6_tcp, kTcpAck | kTcpPsh));
  cases.push_back(OneFlow("Ipv6Udp", "IPv6 UDP: ports",
                          V6().Udp(5353, 53).Payload(30).Build(), v6_udp));
  cases.push_back(
      OneFlow("Ipv6Icmpv6Echo", "ICMPv6 echo request: type 128 code 0",
              V6().Icmpv6(128, 0).Payload(56).Build(),
              WithIcmp(Key(6, kIcmpv6, "2001:db8::1", "2001:db8::2"), 128, 0)));
  cases.push_back(OneFlow("Ipv6Sctp",
                          "IPv6 SCTP (132): other protocol, ports 0",
                          V6().WithIpProtocol(kSctp).Payload(40).Build(),
                          Key(6, kSctp, "2001:db8::1", "2001:db8::2")));
  cases.push_back(OneFlow("Ipv6Gre", "IPv6 GRE (47): other protocol, ports 0",
                          V6().WithIpProtocol(kGre).Payload(40).Build(),
                          Key(6, kGre, "2001:db8::1", "2001:db8::2")));
  cases.push_back(OneFlow("Ipv6NoNextHeader",
                          "IPv6 next header 59: protocol 59, ports 0",
                          V6().Payload(8).WithIpProtocol(kNoNextHeader).Build(),
                          Key(6, kNoNextHeader, "2001:db8::1", "2001:db8::2")));
  cases.push_back(OneFlow(
      "IcmpOverIpv6IsOther",
      "ICMP (1) carried by IPv6 is not ICMPv6: other protocol, no type/code",
      V6().WithIpProtocol(kIcmp).Payload(16, 0x08).Build(),
      Key(6, kIcmp, "2001:db8::1", "2001:db8::2")));

  // --- VLAN.
  cases.push_back(OneFlow("Ipv4OneVlanTag", "802.1Q tag before IPv4 UDP",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(100)
                              .Ipv4("192.0.2.1", "198.51.100.2")
                              .Udp(5353, 53)
                              .Payload(30)
                              .Build(),
                          v4_udp));
  cases.push_back(OneFlow("Ipv6TwoVlanTags",
                          "802.1ad outer + 802.1Q inner tag before IPv6 TCP",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(10, kEthertypeQinQ)
                              .Vlan(20, kEthertypeVlan)
                              .Ipv6("2001:db8::1", "2001:db8::2")
                              .Tcp(40000, 443, kTcpAck)
                              .Build(),
                          v6_tcp, kTcpAck));
  cases.push_back(OneLoss("ThreeVlanTags",
                          "a third VLAN tag is more than parsed",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(1, kEthertypeQinQ)
                              .Vlan(2)
                              .Vlan(3)
                              .Ipv4("192.0.2.1", "198.51.100.2")
                              .Udp(5353, 53)
                              .Build(),
                          WEIR_COUNTER_TRUNCATED_VLAN));

  // --- IPv4 options and fragments.
  cases.push_back(OneFlow(
      "Ipv4Options", "IPv4 with 40 bytes of options (IHL 15): L4 found after",
      V4().WithIpv4Options(40).Tcp(40000, 443, kTcpSyn).Build(), v4_tcp,
      kTcpSyn));
  cases.push_back(OneFlow(
      "Ipv4FirstFragment", "offset 0, MF: ports read, not a fragment flow",
      V4().WithIpv4Fragment(0, true).Udp(5353, 53).Payload(1000).Build(),
      v4_udp));
  cases.push_back(
      OneFlow("Ipv4NonFirstFragment", "offset 185: fragment flag, ports 0",
              V4().WithIpv4Fragment(185, false)
                  .WithIpProtocol(kUdp)
                  .Payload(500)
                  .Build(),
              AsFragment(Key(4, kUdp, "192.0.2.1", "198.51.100.2"))));

  // --- IPv6 extension headers and fragments.
  cases.push_back(
      OneFlow("Ipv6HopByHop", "hop-by-hop options (0) before TCP",
              V6().Ipv6Extension(0, 8).Tcp(40000, 443, kTcpSyn).Build(), v6_tcp,
              kTcpSyn));
  cases.push_back(
      OneFlow("Ipv6Routing", "routing header (43), 24 bytes, before UDP",
              V6().Ipv6Extension(43, 24).Udp(5353, 53).Build(), v6_udp));
  cases.push_back(OneFlow(
      "Ipv6DestinationOptions", "destination options (60) before ICMPv6",
      V6().Ipv6Extension(60, 16).Icmpv6(129, 0).Build(),
      WithIcmp(Key(6, kIcmpv6, "2001:db8::1", "2001:db8::2"), 129, 0)));
  cases.push_back(OneFlow(
      "Ipv6AuthenticationHeader", "AH (51), 24 bytes in 4-byte units, TCP",
      V6().Ipv6Extension(51, 24).Tcp(40000, 443, kTcpAck).Build(), v6_tcp,
      kTcpAck));
  cases.push_back(
      OneFlow("Ipv6MobilityHeader", "mobility header (135) then TCP",
              V6().Ipv6Extension(135, 16).Tcp(40000, 443, kTcpAck).Build(),
              v6_tcp, kTcpAck));
  cases.push_back(OneFlow(
      "Ipv6FirstFragment", "fragment header offset 0, M: ports read",
      V6().Ipv6Fragment(0, true).Udp(5353, 53).Payload(1000).Build(), v6_udp));
  cases.push_back(OneFlow(
      "Ipv6NonFirstFragment", "fragment offset 100: fragment flag, ports 0",
      V6().Ipv6Fragment(100, false)
          .WithExtensionNextHeader(kUdp)
          .Payload(400)
          .Build(),
      AsFragment(Key(6, kUdp, "2001:db8::1", "2001:db8::2"))));
  cases.push_back(OneFlow("Ipv6SixExtensionHeaders",
                          "six extension headers: the most followed",
                          V6().Ipv6Extension(0)
                              .Ipv6Extension(60)
                              .Ipv6Extension(43)
                              .Ipv6Fragment(0, false)
                              .Ipv6Extension(51, 12)
                              .Ipv6Extension(60)
                              .Udp(5353, 53)
                              .Build(),
                          v6_udp));
  cases.push_back(OneLoss("Ipv6SevenExtensionHeaders",
                          "seven extension headers: over the limit",
                          V6().Ipv6Extension(0)
                              .Ipv6Extension(60)
                              .Ipv6Extension(43)
                              .Ipv6Extension(43)
                              .Ipv6Extension(60)
                              .Ipv6Extension(60)
                              .Ipv6Extension(60)
                              .Udp(5353, 53)
                              .Build(),
                          WEIR_COUNTER_IPV6_EXTENSION_LIMIT));
  cases.push_back(OneLoss(
      "Ipv6ExtensionHeaderCutShort",
      "a 64-byte routing header in a frame that ends 20 bytes into it",
      V6().Ipv6Extension(43, 64).Udp(5353, 53).TruncateTo(14 + 40 + 20).Build(),
      WEIR_COUNTER_IPV6_EXTENSION_LIMIT));

  // --- Not IP, and truncation at every layer.
  cases.push_back(
      OneLoss("ArpIsNonIp", "ARP: counted as non-IP",
              PacketBuilder().Ethernet(kEthertypeArp).Payload(28, 0).Build(),
              WEIR_COUNTER_NON_IP));
  cases.push_back(OneLoss("TruncatedVlanTag",
                          "802.1Q TPID then only 2 bytes of the tag",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(5)
                              .Ipv4("192.0.2.1", "198.51.100.2")
                              .TruncateTo(16)
                              .Build(),
                          WEIR_COUNTER_TRUNCATED_VLAN));
  // The kernel's test run refuses an untagged IPv4/IPv6 frame shorter than
  // Ethernet + the fixed IP header (KernelRefusesShortFrames below); behind a
  // VLAN tag it takes them, so the truncated IP header cases carry one.
  cases.push_back(OneLoss("Ipv4HeaderMissing",
                          "a VLAN tag announcing IPv4, then the frame ends",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(5)
                              .Ipv4("192.0.2.1", "198.51.100.2")
                              .TruncateTo(14 + 4)
                              .Build(),
                          WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss("TruncatedIpv4Header",
                          "10 of 20 IPv4 header bytes (VLAN-tagged)",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(5)
                              .Ipv4("192.0.2.1", "198.51.100.2")
                              .Udp(5353, 53)
                              .TruncateTo(14 + 4 + 10)
                              .Build(),
                          WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss(
      "Ipv4OptionsCutShort", "IHL 15 but the frame ends after 24 bytes of IP",
      V4().WithIpv4Options(40).Udp(5353, 53).TruncateTo(14 + 24).Build(),
      WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss("Ipv4IhlBelowFive", "IHL 4 is invalid",
                          V4().WithIpv4Ihl(4).Udp(5353, 53).Build(),
                          WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss("Ipv4WrongVersion",
                          "version 6 in an IPv4 ethertype frame",
                          V4().WithIpVersion(6).Udp(5353, 53).Build(),
                          WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss("Ipv4TotalLengthBeyondFrame",
                          "total length 1500 in a 42-byte frame",
                          V4().WithIpv4TotalLength(1500).Udp(5353, 53).Build(),
                          WEIR_COUNTER_BAD_IPV4_HEADER));
  cases.push_back(OneLoss("TruncatedIpv6Header",
                          "39 of 40 IPv6 header bytes (VLAN-tagged)",
                          PacketBuilder()
                              .Ethernet()
                              .Vlan(5)
                              .Ipv6("2001:db8::1", "2001:db8::2")
                              .Udp(5353, 53)
                              .TruncateTo(14 + 4 + 39)
                              .Build(),
                          WEIR_COUNTER_BAD_IPV6_HEADER));
  cases.push_back(OneLoss("Ipv6WrongVersion",
                          "version 4 in an IPv6 ethertype frame",
                          V6().WithIpVersion(4).Udp(5353, 53).Build(),
                          WEIR_COUNTER_BAD_IPV6_HEADER));
  // IPv4's total length is set to match the cut frame: a total length beyond
  // the frame is a bad IPv4 header (above), caught before L4.
  cases.push_back(OneLoss("TruncatedTcp", "19 of 20 TCP header bytes",
                          V4().Tcp(40000, 443, kTcpSyn)
                              .WithIpv4TotalLength(20 + 19)
                              .TruncateTo(14 + 20 + 19)
                              .Build(),
                          WEIR_COUNTER_TRUNCATED_L4));
  cases.push_back(OneLoss("TruncatedUdp", "7 of 8 UDP header bytes",
                          V6().Udp(5353, 53).TruncateTo(14 + 40 + 7).Build(),
                          WEIR_COUNTER_TRUNCATED_L4));
  cases.push_back(OneLoss("TruncatedIcmp", "4 of 8 ICMP header bytes",
                          V4().Icmp(8, 0)
                              .WithIpv4TotalLength(20 + 4)
                              .TruncateTo(14 + 20 + 4)
                              .Build(),
                          WEIR_COUNTER_TRUNCATED_L4));
  cases.push_back(OneLoss("TruncatedIcmpv6", "2 of 8 ICMPv6 header bytes",
                          V6().Icmpv6(128, 0).TruncateTo(14 + 40 + 2).Build(),
                          WEIR_COUNTER_TRUNCATED_L4));

  // --- Sizes.
  {
    // A minimum Ethernet frame: 42 bytes of headers padded to 60 on the wire.
    std::vector<uint8_t> frame = V4().Udp(5353, 53).Build();
    frame.resize(60, 0);
    cases.push_back(OneFlow(
        "EthernetPaddingCounted",
        "60-byte frame carrying a 28-byte IP packet: all 60 bytes count",
        std::move(frame), v4_udp));
  }
  cases.push_back(OneFlow(
      "LargeFrame",
      "3,600-byte frame (BPF_PROG_TEST_RUN's linear limit is ~3,700; the "
      "9,000-byte case runs on a real datapath below)",
      V4().Udp(5353, 53).Payload(3600 - 42).Build(), v4_udp));

  // --- Several packets.
  {
    std::vector<uint8_t> syn = V4().Tcp(40000, 443, kTcpSyn).Build();
    std::vector<uint8_t> data =
        V4().Tcp(40000, 443, kTcpAck | kTcpPsh).Payload(500).Build();
    std::vector<uint8_t> fin = V4().Tcp(40000, 443, kTcpFin | kTcpAck).Build();
    const uint64_t bytes = syn.size() + data.size() + fin.size();
    cases.push_back(Case{
        "TcpFlagsOredOverPackets",
        "SYN, ACK|PSH, FIN|ACK of one flow: one entry, 3 packets, flags ORed",
        {In(syn), In(data), In(fin)},
        {{v4_tcp, 3, bytes, kTcpSyn | kTcpAck | kTcpPsh | kTcpFin}},
        {}});
  }
  {
    std::vector<uint8_t> a = V4().Udp(5353, 53).Build();
    std::vector<uint8_t> b = V4().Udp(5353, 54).Payload(10).Build();
    weir_flow_key key_b = v4_udp;
    key_b.dst_port = 54;
    cases.push_back(Case{"TwoFlowsTwoEntries",
                         "two destination ports: two entries",
                         {In(a), In(b)},
                         {{v4_udp, 1, a.size(), 0}, {key_b, 1, b.size(), 0}},
                         {}});
  }
  {
    std::vector<uint8_t> frame = V6().Udp(5353, 53).Payload(64).Build();
    cases.push_back(Case{"EgressDirection",
                         "the egress program records direction 2",
                         {In(frame, Hook::kEgress)},
                         {{AsEgress(v6_udp), 1, frame.size(), 0}},
                         {}});
    cases.push_back(Case{
        "SameTupleBothDirections",
        "ingress and egress are different flows",
        {In(frame, Hook::kIngress), In(frame, Hook::kEgress)},
        {{v6_udp, 1, frame.size(), 0}, {AsEgress(v6_udp), 1, frame.size(), 0}},
        {}});
  }
  {
    std::vector<uint8_t> good = V4().Udp(5353, 53).Build();
    std::vector<uint8_t> arp =
        PacketBuilder().Ethernet(kEthertypeArp).Payload(46, 0).Build();
    std::vector<uint8_t> cut = V6().Tcp(1, 2, kTcpSyn).TruncateTo(60).Build();
    cases.push_back(Case{"MixedFlowsAndLosses",
                         "one flow, one non-IP, one truncated TCP",
                         {In(good), In(arp), In(cut)},
                         {{v4_udp, 1, good.size(), 0}},
                         {{WEIR_COUNTER_NON_IP, {1, arp.size()}},
                          {WEIR_COUNTER_TRUNCATED_L4, {1, cut.size()}}}});
  }

  // --- GSO: wire packets and bytes (gso_segs and gso_size set through the
  // test run's __sk_buff).
  {
    // 14 + 20 + 20 headers, 3 x 1000 bytes of payload.
    std::vector<uint8_t> frame =
        V4().Tcp(40000, 443, kTcpAck).Payload(3000).Build();
    cases.push_back(
        Case{"GsoTcpIpv4",
             "TSO packet of 3 segments: 3 packets, headers x3",
             {Gso(frame, 3, 1000)},
             {{v4_tcp, 3, frame.size() + 2 * (14 + 20 + 20), kTcpAck}},
             {}});
  }
  {
    // 12 bytes of TCP options (timestamps): the headers are 14 + 40 + 32.
    std::vector<uint8_t> frame =
        V6().Tcp(40000, 443, kTcpAck, 12).Payload(2 * 1400 + 200).Build();
    cases.push_back(
        Case{"GsoTcpIpv6WithOptions",
             "3 segments, TCP options repeated per segment",
             {Gso(frame, 3, 1400)},
             {{v6_tcp, 3, frame.size() + 2 * (14 + 40 + 32), kTcpAck}},
             {}});
  }
  {
    std::vector<uint8_t> frame = PacketBuilder()
                                     .Ethernet()
                                     .Vlan(7)
                                     .Ipv4("192.0.2.1", "198.51.100.2")
                                     .Udp(5353, 53)
                                     .Payload(4 * 700)
                                     .Build();
    cases.push_back(Case{"GsoUdpWithVlan",
                         "UDP GSO, 4 segments, VLAN tag repeated too",
                         {Gso(frame, 4, 700)},
                         {{v4_udp, 4, frame.size() + 3 * (14 + 4 + 20 + 8), 0}},
                         {}});
  }
  {
    std::vector<uint8_t> frame =
        V4().Tcp(40000, 443, kTcpAck).Payload(100).Build();
    cases.push_back(Case{"GsoSegsWithoutGsoSize",
                         "gso_segs without gso_size is not GSO: 1 packet",
                         {Gso(frame, 5, 0)},
                         {{v4_tcp, 1, frame.size(), kTcpAck}},
                         {}});
    cases.push_back(Case{"GsoOneSegment",
                         "gso_segs 1: 1 packet, no header repeat",
                         {Gso(frame, 1, 1400)},
                         {{v4_tcp, 1, frame.size(), kTcpAck}},
                         {}});
  }
  {
    std::vector<uint8_t> arp =
        PacketBuilder().Ethernet(kEthertypeArp).Payload(200, 0).Build();
    cases.push_back(
        Case{"GsoLossCountsSegments",
             "a lost GSO packet counts its segments, its bytes as they are",
             {Gso(arp, 2, 100)},
             {},
             {{WEIR_COUNTER_NON_IP, {2, arp.size()}}}});
  }
  return cases;
}

}  // namespace weir::bpf::fixtures
