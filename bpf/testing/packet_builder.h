// Builds Ethernet frames for BPF_PROG_TEST_RUN, layer by layer, outermost
// first. Lengths, next-protocol fields and the IPv4 header checksum are
// computed from the layers that follow; With*() calls override a field of
// the last layer of their kind (to build broken headers on purpose).
//
//   std::vector<uint8_t> frame = PacketBuilder()
//                                    .Ethernet()
//                                    .Vlan(100)
//                                    .Ipv4("192.0.2.1", "198.51.100.2")
//                                    .Tcp(40000, 443, kTcpSyn)
//                                    .Payload(100)
//                                    .Build();
//
// Addresses are from the documentation ranges (docs/design.md §10); the builder
// accepts any text address inet_pton does. Malformed input to the builder
// itself (a bad address) aborts: it is a bug in the test.
#ifndef WEIR_BPF_TESTING_PACKET_BUILDER_H_
#define WEIR_BPF_TESTING_PACKET_BUILDER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weir::bpf::testing {

inline constexpr uint16_t kEthertypeIpv4 = 0x0800;
inline constexpr uint16_t kEthertypeArp = 0x0806;
inline constexpr uint16_t kEthertypeVlan = 0x8100;  // 802.1Q
inline constexpr uint16_t kEthertypeQinQ = 0x88a8;  // 802.1ad
inline constexpr uint16_t kEthertypeIpv6 = 0x86dd;

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr size_t kEthernetHeaderLen = 14;
inline constexpr size_t kVlanTagLen = 4;
inline constexpr size_t kIpv4HeaderLen = 20;
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kTcpHeaderLen = 20;
inline constexpr size_t kUdpHeaderLen = 8;
inline constexpr size_t kIcmpHeaderLen = 8;

class PacketBuilder {
 public:
  // Ethernet with fixed locally administered MACs; the ethertype follows
  // the next layer unless given.
  PacketBuilder& Ethernet(std::optional<uint16_t> ethertype = std::nullopt);
  // A VLAN tag: TPID (802.1Q or 802.1ad) and VLAN id.
  PacketBuilder& Vlan(uint16_t vid, uint16_t tpid = kEthertypeVlan);
  PacketBuilder& Ipv4(std::string_view src, std::string_view dst);
  PacketBuilder& Ipv6(std::string_view src, std::string_view dst);
  // A generic IPv6 extension header (hop-by-hop 0, routing 43, destination
  // options 60, mobility 135, ...) of `length` bytes (a multiple of 8, >= 8),
  // or AH (51: a multiple of 4, >= 12).
  PacketBuilder& Ipv6Extension(uint8_t type, size_t length = 8);
  // An IPv6 fragment header: offset in 8-byte units, M flag.
  PacketBuilder& Ipv6Fragment(uint16_t offset, bool more_fragments);
  // TCP with flags (byte 13) and `options_length` bytes of NOP options (a
  // multiple of 4), data offset to match.
  PacketBuilder& Tcp(uint16_t src_port, uint16_t dst_port, uint8_t flags,
                     size_t options_length = 0);
  PacketBuilder& Udp(uint16_t src_port, uint16_t dst_port);
  // ICMP (IPv4) and ICMPv6: type, code, checksum 0, 4 bytes of body.
  PacketBuilder& Icmp(uint8_t type, uint8_t code);
  PacketBuilder& Icmpv6(uint8_t type, uint8_t code);
  // Opaque bytes: `size` copies of `fill`, or the given bytes.
  PacketBuilder& Payload(size_t size, uint8_t fill = 0xab);
  PacketBuilder& Payload(std::vector<uint8_t> bytes);

  // Overrides for the last IPv4 or IPv6 layer.
  PacketBuilder& WithIpProtocol(
      uint8_t protocol);  // IPv4 protocol / IPv6 next header
  PacketBuilder& WithIpVersion(uint8_t version);
  // IPv4 only.
  PacketBuilder& WithIpv4Options(
      size_t length);  // NOPs + EOL, a multiple of 4, <= 40
  PacketBuilder& WithIpv4Fragment(uint16_t offset,
                                  bool more_fragments);  // offset: 8-byte units
  PacketBuilder& WithIpv4Ihl(uint8_t ihl);
  PacketBuilder& WithIpv4TotalLength(uint16_t total_length);
  // Overrides the next-header of the last IPv6 extension header.
  PacketBuilder& WithExtensionNextHeader(uint8_t next_header);

  // Cuts the built frame after `size` bytes (a truncated capture).
  PacketBuilder& TruncateTo(size_t size);

  std::vector<uint8_t> Build() const;

 private:
  enum class Kind {
    kEthernet,
    kVlan,
    kIpv4,
    kIpv6,
    kIpv6Ext,
    kTcp,
    kUdp,
    kIcmp,
    kIcmpv6,
    kPayload
  };

  struct Layer {
    Kind kind;
    // Ethernet/VLAN: ethertype of what follows. IP/extension: protocol of
    // what follows. Empty: derived from the next layer.
    std::optional<uint16_t> next;
    // VLAN: TPID (this layer's own ethertype) and id.
    uint16_t tpid = 0;
    uint16_t vid = 0;
    // Addresses, network order (4 or 16 bytes used).
    std::array<uint8_t, 16> src = {};
    std::array<uint8_t, 16> dst = {};
    // IPv4.
    size_t ip_options = 0;
    uint16_t frag_offset = 0;
    bool more_fragments = false;
    std::optional<uint8_t> version;
    std::optional<uint8_t> ihl;
    std::optional<uint16_t> total_length;
    // IPv6 extension: type, length in bytes.
    uint8_t ext_type = 0;
    size_t ext_length = 0;
    // TCP/UDP/ICMP.
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;
    size_t tcp_options = 0;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    // Payload.
    std::vector<uint8_t> bytes;
  };

  // The ethertype (for Ethernet/VLAN) or IP protocol number by which the
  // layer before `layer` announces it.
  static std::optional<uint16_t> EthertypeOf(const Layer& layer);
  static std::optional<uint16_t> ProtocolOf(const Layer& layer);
  // Serializes `layer` in front of `rest` (everything after it).
  static std::vector<uint8_t> Serialize(const Layer& layer, const Layer* next,
                                        const std::vector<uint8_t>& rest);

  Layer& Last(Kind kind);
  Layer& LastIp();

  std::vector<Layer> layers_;
  std::optional<size_t> truncate_to_;
};

}  // namespace weir::bpf::testing

#endif  // WEIR_BPF_TESTING_PACKET_BUILDER_H_
