#include "queryd/query/proto_convert.h"

#include "common/ip_address.h"

namespace weir::query {
namespace {

constexpr uint64_t kNanosPerSecond = 1000000000;

// Sets the text and class of one side of a flow. The store only holds
// 16-byte addresses, so FromBytes cannot fail here.
void SetAddress(const store::Address& address, std::string* text,
                weir::v1::AddressClass* address_class) {
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(address);
  if (!ip.ok()) return;
  *text = ip->ToString();
  // AddressClass's numbers equal weir.v1.AddressClass (ip_address.h).
  *address_class = static_cast<weir::v1::AddressClass>(Classify(*ip));
}

}  // namespace

void TimeToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) /
                                      absl::Nanoseconds(1)));
}

void UnixNanosToProto(uint64_t unix_nano, google::protobuf::Timestamp* out) {
  out->set_seconds(static_cast<int64_t>(unix_nano / kNanosPerSecond));
  out->set_nanos(static_cast<int32_t>(unix_nano % kNanosPerSecond));
}

void DurationToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(d / absl::Nanoseconds(1)));
}

void FlowToProto(const store::FlowRecord& flow, weir::v1::Flow* out) {
  weir::v1::FlowKey* key = out->mutable_key();
  key->set_node(flow.node);
  key->set_ifindex(flow.ifindex);
  key->set_ifname(flow.ifname);
  key->set_direction(flow.direction);
  key->set_ip_version(flow.ipv4() ? weir::v1::IP_VERSION_4
                                  : weir::v1::IP_VERSION_6);
  key->set_protocol(flow.protocol);
  weir::v1::AddressClass src_class = weir::v1::ADDRESS_CLASS_UNSPECIFIED;
  weir::v1::AddressClass dst_class = weir::v1::ADDRESS_CLASS_UNSPECIFIED;
  SetAddress(flow.src_addr, key->mutable_src_addr(), &src_class);
  SetAddress(flow.dst_addr, key->mutable_dst_addr(), &dst_class);
  key->set_src_port(flow.src_port);
  key->set_dst_port(flow.dst_port);
  key->set_icmp_type(flow.icmp_type);
  key->set_icmp_code(flow.icmp_code);
  key->set_fragment(flow.fragment);
  out->set_packets(flow.packets);
  out->set_bytes(flow.bytes);
  UnixNanosToProto(flow.first_seen_unix_nano, out->mutable_first_seen());
  UnixNanosToProto(flow.last_seen_unix_nano, out->mutable_last_seen());
  out->set_tcp_flags(flow.tcp_flags);
  out->set_src_class(src_class);
  out->set_dst_class(dst_class);
}

void CountersToProto(const store::NodeCounters& counters,
                     weir::v1::Counters* out) {
  out->set_packets_seen(counters.packets_seen);
  out->set_bytes_seen(counters.bytes_seen);
  out->set_packets_exported(counters.packets_exported);
  out->set_bytes_exported(counters.bytes_exported);
  for (const store::LossTotal& loss : counters.losses) {
    if (loss.packets == 0 && loss.bytes == 0) continue;
    weir::v1::LossCount* count = out->add_losses();
    count->set_reason(loss.reason);
    count->set_packets(loss.packets);
    count->set_bytes(loss.bytes);
  }
}

void NodeToProto(const store::NodeInfo& node, bool connected,
                 weir::v1::Node* out) {
  out->set_name(node.name);
  out->set_version(node.version);
  TimeToProto(node.last_seen, out->mutable_last_seen());
  out->set_epoch(node.epoch);
  out->set_last_seq(node.last_seq);
  out->set_gaps(node.gaps);
  out->set_stale_batches(node.stale_batches);
  out->set_connected(connected);
  CountersToProto(node.counters, out->mutable_counters());
}

}  // namespace weir::query
