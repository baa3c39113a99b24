#include "queryd/query/flow_filter.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/status_macros.h"
#include "queryd/query/request_validation.h"

namespace weir::query {
namespace {

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmpv6 = 58;

// Addresses only ever show the caller's text back, never our own rewrite,
// so the message points at what they typed.
absl::Status FieldError(absl::string_view field, absl::string_view prefix,
                        int index, absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ".", prefix, "[", index, "]: ", message));
}

absl::Status CompileCidrs(
    const google::protobuf::RepeatedPtrField<std::string>& in,
    absl::string_view field, absl::string_view name, std::vector<Cidr>* out) {
  for (int i = 0; i < in.size(); ++i) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(in[i]);
    if (!cidr.ok()) return FieldError(field, name, i, cidr.status().message());
    out->push_back(*std::move(cidr));
  }
  return absl::OkStatus();
}

absl::Status CompilePorts(const google::protobuf::RepeatedField<uint32_t>& in,
                          absl::string_view field, absl::string_view name,
                          std::vector<uint16_t>* out) {
  for (int i = 0; i < in.size(); ++i) {
    if (in[i] < 1 || in[i] > 65535) {
      return FieldError(field, name, i,
                        absl::StrCat("port ", in[i], " is outside 1..65535"));
    }
    out->push_back(static_cast<uint16_t>(in[i]));
  }
  return absl::OkStatus();
}

absl::Status CompileNames(
    const google::protobuf::RepeatedPtrField<std::string>& in,
    absl::string_view field, absl::string_view name,
    std::vector<std::string>* out) {
  for (int i = 0; i < in.size(); ++i) {
    if (in[i].empty()) return FieldError(field, name, i, "must not be empty");
    if (in[i].size() > 253) {
      return FieldError(field, name, i, "longer than 253 characters");
    }
    out->push_back(in[i]);
  }
  return absl::OkStatus();
}

template <typename T>
bool AnyOf(const std::vector<T>& values, const T& value) {
  return values.empty() ||
         std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

absl::StatusOr<uint8_t> ParseProtocol(absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(text);
  if (name == "tcp") return kTcp;
  if (name == "udp") return kUdp;
  if (name == "icmp") return kIcmp;
  if (name == "icmpv6" || name == "ipv6-icmp") return kIcmpv6;
  uint32_t number = 0;
  if (!name.empty() &&
      std::all_of(name.begin(), name.end(), absl::ascii_isdigit) &&
      name.size() <= 3 && absl::SimpleAtoi(name, &number) && number <= 255) {
    return static_cast<uint8_t>(number);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown protocol \"", text.substr(0, 64),
                   "\"; use tcp, udp, icmp, icmpv6 or a number 0..255"));
}

std::string ProtocolName(uint8_t protocol) {
  switch (protocol) {
    case kTcp:
      return "tcp";
    case kUdp:
      return "udp";
    case kIcmp:
      return "icmp";
    case kIcmpv6:
      return "icmpv6";
    default:
      return absl::StrCat(protocol);
  }
}

absl::StatusOr<FlowFilter> FlowFilter::Compile(const weir::v1::FlowFilter& in,
                                               absl::string_view field) {
  FlowFilter filter;
  WEIR_RETURN_IF_ERROR(CompileNames(in.node(), field, "node", &filter.nodes_));
  WEIR_RETURN_IF_ERROR(
      CompileNames(in.interface(), field, "interface", &filter.interfaces_));
  if (!weir::v1::Direction_IsValid(in.direction())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".direction: unknown value ", in.direction(),
                     "; use ", KnownValues(*weir::v1::Direction_descriptor())));
  }
  filter.direction_ = in.direction();
  for (int i = 0; i < in.protocol_size(); ++i) {
    absl::StatusOr<uint8_t> protocol = ParseProtocol(in.protocol(i));
    if (!protocol.ok()) {
      return FieldError(field, "protocol", i, protocol.status().message());
    }
    filter.protocols_.push_back(*protocol);
  }
  for (auto [values, name, out] :
       {std::tuple{&in.addr(), "addr", &filter.either_addr_},
        std::tuple{&in.src_addr(), "src_addr", &filter.src_addr_},
        std::tuple{&in.dst_addr(), "dst_addr", &filter.dst_addr_}}) {
    WEIR_RETURN_IF_ERROR(CompileCidrs(*values, field, name, out));
  }
  for (auto [values, name, out] :
       {std::tuple{&in.port(), "port", &filter.either_port_},
        std::tuple{&in.src_port(), "src_port", &filter.src_port_},
        std::tuple{&in.dst_port(), "dst_port", &filter.dst_port_}}) {
    WEIR_RETURN_IF_ERROR(CompilePorts(*values, field, name, out));
  }

  uint32_t& d = filter.dimensions_;
  if (!filter.nodes_.empty()) d |= store::kDimNode;
  if (!filter.interfaces_.empty()) d |= store::kDimInterface;
  if (filter.direction_ != weir::v1::DIRECTION_UNSPECIFIED)
    d |= store::kDimDirection;
  if (!filter.protocols_.empty()) d |= store::kDimProtocol;
  if (!filter.either_addr_.empty())
    d |= store::kDimSrcAddr | store::kDimDstAddr;
  if (!filter.src_addr_.empty()) d |= store::kDimSrcAddr;
  if (!filter.dst_addr_.empty()) d |= store::kDimDstAddr;
  if (!filter.either_port_.empty())
    d |= store::kDimSrcPort | store::kDimDstPort;
  if (!filter.src_port_.empty()) d |= store::kDimSrcPort;
  if (!filter.dst_port_.empty()) d |= store::kDimDstPort;
  return filter;
}

bool FlowFilter::AnyCidrContains(const std::vector<Cidr>& cidrs,
                                 const store::Address& address) {
  if (cidrs.empty()) return true;
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(address);
  if (!ip.ok()) return false;
  return std::any_of(cidrs.begin(), cidrs.end(),
                     [&](const Cidr& cidr) { return cidr.Contains(*ip); });
}

bool FlowFilter::Matches(const store::FlowRecord& flow) const {
  if (dimensions_ == 0) return true;
  if (!AnyOf(nodes_, flow.node)) return false;
  if (!AnyOf(interfaces_, flow.ifname)) return false;
  if (direction_ != weir::v1::DIRECTION_UNSPECIFIED &&
      flow.direction != direction_) {
    return false;
  }
  if (!AnyOf(protocols_, flow.protocol)) return false;
  if (!either_addr_.empty() && !AnyCidrContains(either_addr_, flow.src_addr) &&
      !AnyCidrContains(either_addr_, flow.dst_addr)) {
    return false;
  }
  if (!AnyCidrContains(src_addr_, flow.src_addr)) return false;
  if (!AnyCidrContains(dst_addr_, flow.dst_addr)) return false;
  if (!either_port_.empty() && !AnyOf(either_port_, flow.src_port) &&
      !AnyOf(either_port_, flow.dst_port)) {
    return false;
  }
  if (!AnyOf(src_port_, flow.src_port)) return false;
  if (!AnyOf(dst_port_, flow.dst_port)) return false;
  return true;
}

bool FlowFilter::Matches(const store::RollupEntry& entry) const {
  if (dimensions_ == 0) return true;
  const uint32_t carried = store::ViewDimensions(entry.view);
  if ((dimensions_ & carried) != dimensions_) return false;
  // Only the view's own fields are set; the planner guarantees the filter
  // asks for nothing else.
  store::FlowRecord flow;
  flow.node = entry.node;
  flow.ifname = entry.ifname;
  flow.direction = entry.direction;
  flow.protocol = entry.protocol;
  flow.src_addr = entry.src_addr;
  flow.dst_addr = entry.dst_addr;
  if (entry.view == store::View::kSrcPort) flow.src_port = entry.port;
  if (entry.view == store::View::kDstPort) flow.dst_port = entry.port;
  return Matches(flow);
}

}  // namespace weir::query
