#include "queryd/flow_records.h"

#include "common/ip_address.h"
#include "google/protobuf/util/time_util.h"

namespace weir::queryd {
namespace {

std::string AddressText(const store::Address& address) {
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(address);
  return ip.ok() ? ip->ToString() : std::string();
}

weir::v1::AddressClass ClassOf(const store::Address& address) {
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(address);
  if (!ip.ok()) return weir::v1::ADDRESS_CLASS_UNSPECIFIED;
  // common::AddressClass numbers equal weir.v1.AddressClass (pinned there).
  return static_cast<weir::v1::AddressClass>(Classify(*ip));
}

}  // namespace

weir::v1::Flow FlowToProto(const store::FlowRecord& record) {
  using google::protobuf::util::TimeUtil;
  weir::v1::Flow flow;
  weir::v1::FlowKey* key = flow.mutable_key();
  key->set_node(record.node);
  key->set_ifindex(record.ifindex);
  key->set_ifname(record.ifname);
  key->set_direction(record.direction);
  key->set_ip_version(record.ipv4() ? weir::v1::IP_VERSION_4
                                    : weir::v1::IP_VERSION_6);
  key->set_protocol(record.protocol);
  key->set_src_addr(AddressText(record.src_addr));
  key->set_dst_addr(AddressText(record.dst_addr));
  key->set_src_port(record.src_port);
  key->set_dst_port(record.dst_port);
  key->set_icmp_type(record.icmp_type);
  key->set_icmp_code(record.icmp_code);
  key->set_fragment(record.fragment);
  flow.set_packets(record.packets);
  flow.set_bytes(record.bytes);
  *flow.mutable_first_seen() = TimeUtil::NanosecondsToTimestamp(
      static_cast<int64_t>(record.first_seen_unix_nano));
  *flow.mutable_last_seen() = TimeUtil::NanosecondsToTimestamp(
      static_cast<int64_t>(record.last_seen_unix_nano));
  flow.set_tcp_flags(record.tcp_flags);
  flow.set_src_class(ClassOf(record.src_addr));
  flow.set_dst_class(ClassOf(record.dst_addr));
  return flow;
}

}  // namespace weir::queryd
