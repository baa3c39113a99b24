#include "bpf/testing/packet_builder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace weir::bpf::testing {
namespace {

// A misuse of the builder is a bug in the test that called it.
[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "PacketBuilder: %s\n", what.c_str());
  std::abort();
}

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void Put32(std::vector<uint8_t>& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v));
}

uint16_t Checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (len % 2 != 0) sum += data[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> Concat(std::vector<uint8_t> head,
                            const std::vector<uint8_t>& rest) {
  head.insert(head.end(), rest.begin(), rest.end());
  return head;
}

}  // namespace

PacketBuilder& PacketBuilder::Ethernet(std::optional<uint16_t> ethertype) {
  Layer layer{Kind::kEthernet};
  layer.next = ethertype;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Vlan(uint16_t vid, uint16_t tpid) {
  Layer layer{Kind::kVlan};
  layer.vid = vid;
  layer.tpid = tpid;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4(std::string_view src, std::string_view dst) {
  Layer layer{Kind::kIpv4};
  if (inet_pton(AF_INET, std::string(src).c_str(), layer.src.data()) != 1 ||
      inet_pton(AF_INET, std::string(dst).c_str(), layer.dst.data()) != 1) {
    Fail("bad IPv4 address " + std::string(src) + " or " + std::string(dst));
  }
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6(std::string_view src, std::string_view dst) {
  Layer layer{Kind::kIpv6};
  if (inet_pton(AF_INET6, std::string(src).c_str(), layer.src.data()) != 1 ||
      inet_pton(AF_INET6, std::string(dst).c_str(), layer.dst.data()) != 1) {
    Fail("bad IPv6 address " + std::string(src) + " or " + std::string(dst));
  }
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6Extension(uint8_t type, size_t length) {
  const bool ah = type == 51;
  if (ah ? (length < 12 || length % 4 != 0 || length > 1024)
         : (length < 8 || length % 8 != 0 || length > 2048)) {
    Fail("bad IPv6 extension header length " + std::to_string(length));
  }
  Layer layer{Kind::kIpv6Ext};
  layer.ext_type = type;
  layer.ext_length = length;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Ipv6Fragment(uint16_t offset,
                                           bool more_fragments) {
  Layer layer{Kind::kIpv6Ext};
  layer.ext_type = 44;
  layer.ext_length = 8;
  layer.frag_offset = offset;
  layer.more_fragments = more_fragments;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Tcp(uint16_t src_port, uint16_t dst_port,
                                  uint8_t flags, size_t options_length) {
  if (options_length % 4 != 0 || options_length > 40) {
    Fail("bad TCP options length " + std::to_string(options_length));
  }
  Layer layer{Kind::kTcp};
  layer.src_port = src_port;
  layer.dst_port = dst_port;
  layer.tcp_flags = flags;
  layer.tcp_options = options_length;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Udp(uint16_t src_port, uint16_t dst_port) {
  Layer layer{Kind::kUdp};
  layer.src_port = src_port;
  layer.dst_port = dst_port;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Icmp(uint8_t type, uint8_t code) {
  Layer layer{Kind::kIcmp};
  layer.icmp_type = type;
  layer.icmp_code = code;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Icmpv6(uint8_t type, uint8_t code) {
  Layer layer{Kind::kIcmpv6};
  layer.icmp_type = type;
  layer.icmp_code = code;
  layers_.push_back(layer);
  return *this;
}

PacketBuilder& PacketBuilder::Payload(size_t size, uint8_t fill) {
  return Payload(std::vector<uint8_t>(size, fill));
}

PacketBuilder& PacketBuilder::Payload(std::vector<uint8_t> bytes) {
  Layer layer{Kind::kPayload};
  layer.bytes = std::move(bytes);
  layers_.push_back(std::move(layer));
  return *this;
}

PacketBuilder::Layer& PacketBuilder::Last(Kind kind) {
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (it->kind == kind) return *it;
  }
  Fail("no layer of the kind to modify");
}

PacketBuilder::Layer& PacketBuilder::LastIp() {
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    if (it->kind == Kind::kIpv4 || it->kind == Kind::kIpv6) return *it;
  }
  Fail("no IP layer to modify");
}

PacketBuilder& PacketBuilder::WithIpProtocol(uint8_t protocol) {
  LastIp().next = protocol;
  return *this;
}

PacketBuilder& PacketBuilder::WithIpVersion(uint8_t version) {
  LastIp().version = version;
  return *this;
}

PacketBuilder& PacketBuilder::WithIpv4Options(size_t length) {
  if (length % 4 != 0 || length > 40)
    Fail("bad IPv4 options length " + std::to_string(length));
  Last(Kind::kIpv4).ip_options = length;
  return *this;
}

PacketBuilder& PacketBuilder::WithIpv4Fragment(uint16_t offset,
                                               bool more_fragments) {
  if (offset > 0x1fff) Fail("IPv4 fragment offset out of range");
  Layer& ip = Last(Kind::kIpv4);
  ip.frag_offset = offset;
  ip.more_fragments = more_fragments;
  return *this;
}

PacketBuilder& PacketBuilder::WithIpv4Ihl(uint8_t ihl) {
  Last(Kind::kIpv4).ihl = ihl;
  return *this;
}

PacketBuilder& PacketBuilder::WithIpv4TotalLength(uint16_t total_length) {
  Last(Kind::kIpv4).total_length = total_length;
  return *this;
}

PacketBuilder& PacketBuilder::WithExtensionNextHeader(uint8_t next_header) {
  Last(Kind::kIpv6Ext).next = next_header;
  return *this;
}

PacketBuilder& PacketBuilder::TruncateTo(size_t size) {
  truncate_to_ = size;
  return *this;
}

std::optional<uint16_t> PacketBuilder::EthertypeOf(const Layer& layer) {
  switch (layer.kind) {
    case Kind::kVlan:
      return layer.tpid;
    case Kind::kIpv4:
      return kEthertypeIpv4;
    case Kind::kIpv6:
      return kEthertypeIpv6;
    default:
      return std::nullopt;
  }
}

std::optional<uint16_t> PacketBuilder::ProtocolOf(const Layer& layer) {
  switch (layer.kind) {
    case Kind::kIpv4:
      return 4;
    case Kind::kIpv6:
      return 41;
    case Kind::kIpv6Ext:
      return layer.ext_type;
    case Kind::kTcp:
      return 6;
    case Kind::kUdp:
      return 17;
    case Kind::kIcmp:
      return 1;
    case Kind::kIcmpv6:
      return 58;
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> PacketBuilder::Serialize(
    const Layer& layer, const Layer* next, const std::vector<uint8_t>& rest) {
  std::vector<uint8_t> out;
  auto next_ethertype = [&]() -> uint16_t {
    if (layer.next) return *layer.next;
    if (next != nullptr) {
      if (std::optional<uint16_t> t = EthertypeOf(*next)) return *t;
    }
    Fail("cannot derive the ethertype: give it explicitly");
  };
  auto next_protocol = [&]() -> uint8_t {
    if (layer.next) return static_cast<uint8_t>(*layer.next);
    if (next == nullptr)
      return 59;  // IPv6 "no next header"; IPv4 has no better
    if (std::optional<uint16_t> p = ProtocolOf(*next))
      return static_cast<uint8_t>(*p);
    Fail("cannot derive the IP protocol: use WithIpProtocol");
  };

  switch (layer.kind) {
    case Kind::kEthernet: {
      const uint8_t dst_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
      const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
      out.insert(out.end(), dst_mac, dst_mac + 6);
      out.insert(out.end(), src_mac, src_mac + 6);
      Put16(out, next_ethertype());
      break;
    }
    case Kind::kVlan:
      // The TPID belongs to the header before; a tag is TCI + ethertype.
      Put16(out, layer.vid & 0x0fff);
      Put16(out, next_ethertype());
      break;
    case Kind::kIpv4: {
      const size_t header_len = kIpv4HeaderLen + layer.ip_options;
      const uint8_t ihl =
          layer.ihl.value_or(static_cast<uint8_t>(header_len / 4));
      const uint8_t version = layer.version.value_or(4);
      out.push_back(static_cast<uint8_t>(version << 4 | (ihl & 0x0f)));
      out.push_back(0);  // DSCP/ECN
      Put16(out, layer.total_length.value_or(
                     static_cast<uint16_t>(header_len + rest.size())));
      Put16(out, 0x1234);  // identification
      Put16(out, static_cast<uint16_t>((layer.more_fragments ? 0x2000 : 0) |
                                       layer.frag_offset));
      out.push_back(64);  // TTL
      out.push_back(next_protocol());
      Put16(out, 0);  // checksum, below
      out.insert(out.end(), layer.src.begin(), layer.src.begin() + 4);
      out.insert(out.end(), layer.dst.begin(), layer.dst.begin() + 4);
      if (layer.ip_options > 0) {
        out.insert(out.end(), layer.ip_options - 1, 0x01);  // NOP
        out.push_back(0x00);                                // end of options
      }
      const uint16_t sum = Checksum(out.data(), out.size());
      out[10] = static_cast<uint8_t>(sum >> 8);
      out[11] = static_cast<uint8_t>(sum);
      break;
    }
    case Kind::kIpv6: {
      const uint8_t version = layer.version.value_or(6);
      Put32(out, static_cast<uint32_t>(version)
                     << 28);  // traffic class 0, flow label 0
      Put16(out, static_cast<uint16_t>(rest.size()));
      out.push_back(next_protocol());
      out.push_back(64);  // hop limit
      out.insert(out.end(), layer.src.begin(), layer.src.end());
      out.insert(out.end(), layer.dst.begin(), layer.dst.end());
      break;
    }
    case Kind::kIpv6Ext: {
      out.push_back(next_protocol());
      if (layer.ext_type == 44) {  // fragment
        out.push_back(0);
        Put16(out, static_cast<uint16_t>(layer.frag_offset << 3 |
                                         (layer.more_fragments ? 1 : 0)));
        Put32(out, 0xcafe);               // identification
      } else if (layer.ext_type == 51) {  // AH: length in 4-byte units minus 2
        out.push_back(static_cast<uint8_t>(layer.ext_length / 4 - 2));
        out.resize(layer.ext_length, 0);
      } else {  // length in 8-byte units minus 1; PadN-free zero padding
        out.push_back(static_cast<uint8_t>(layer.ext_length / 8 - 1));
        out.resize(layer.ext_length, 0);
      }
      break;
    }
    case Kind::kTcp: {
      Put16(out, layer.src_port);
      Put16(out, layer.dst_port);
      Put32(out, 1000);  // sequence
      Put32(out, 0);     // acknowledgment
      out.push_back(
          static_cast<uint8_t>(((kTcpHeaderLen + layer.tcp_options) / 4) << 4));
      out.push_back(layer.tcp_flags);
      Put16(out, 65535);  // window
      Put16(out, 0);      // checksum (not verified by the program)
      Put16(out, 0);      // urgent pointer
      out.insert(out.end(), layer.tcp_options, 0x01);  // NOP options
      break;
    }
    case Kind::kUdp:
      Put16(out, layer.src_port);
      Put16(out, layer.dst_port);
      Put16(out, static_cast<uint16_t>(kUdpHeaderLen + rest.size()));
      Put16(out, 0);  // checksum: none
      break;
    case Kind::kIcmp:
    case Kind::kIcmpv6:
      out.push_back(layer.icmp_type);
      out.push_back(layer.icmp_code);
      Put16(out, 0);       // checksum (not verified by the program)
      Put32(out, 0x0001);  // identifier/sequence or unused
      break;
    case Kind::kPayload:
      out = layer.bytes;
      break;
  }
  return Concat(std::move(out), rest);
}

std::vector<uint8_t> PacketBuilder::Build() const {
  std::vector<uint8_t> frame;
  for (size_t i = layers_.size(); i-- > 0;) {
    const Layer* next = i + 1 < layers_.size() ? &layers_[i + 1] : nullptr;
    frame = Serialize(layers_[i], next, frame);
  }
  if (truncate_to_ && *truncate_to_ < frame.size()) frame.resize(*truncate_to_);
  return frame;
}

}  // namespace weir::bpf::testing
