#include "collector/batch_builder.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "collector/shipper.h"

namespace weir::collector {
namespace {

// The kernel keeps IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d); the ingest
// form sends it as 4 bytes.
std::string CompactAddress(const __u32 (&address)[4]) {
  const char* bytes = reinterpret_cast<const char*>(address);
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes, kMapped, sizeof(kMapped)) == 0) {
    return std::string(bytes + 12, 4);
  }
  return std::string(bytes, 16);
}

// Kernel counter index i > 0 is reported as weir.v1.LossReason i (see
// BuildBatch): a renumbering on either side fails the build here.
constexpr bool CounterIs(weir_counter_index index,
                         weir::v1::LossReason reason) {
  return static_cast<int>(index) == static_cast<int>(reason);
}
static_assert(CounterIs(WEIR_COUNTER_NON_IP, weir::v1::LOSS_REASON_NON_IP));
static_assert(CounterIs(WEIR_COUNTER_TRUNCATED_ETHERNET,
                        weir::v1::LOSS_REASON_TRUNCATED_ETHERNET));
static_assert(CounterIs(WEIR_COUNTER_TRUNCATED_VLAN,
                        weir::v1::LOSS_REASON_TRUNCATED_VLAN));
static_assert(CounterIs(WEIR_COUNTER_BAD_IPV4_HEADER,
                        weir::v1::LOSS_REASON_BAD_IPV4_HEADER));
static_assert(CounterIs(WEIR_COUNTER_BAD_IPV6_HEADER,
                        weir::v1::LOSS_REASON_BAD_IPV6_HEADER));
static_assert(CounterIs(WEIR_COUNTER_IPV6_EXTENSION_LIMIT,
                        weir::v1::LOSS_REASON_IPV6_EXTENSION_LIMIT));
static_assert(CounterIs(WEIR_COUNTER_TRUNCATED_L4,
                        weir::v1::LOSS_REASON_TRUNCATED_L4));
static_assert(CounterIs(WEIR_COUNTER_MAP_FULL, weir::v1::LOSS_REASON_MAP_FULL));
static_assert(CounterIs(WEIR_COUNTER_NO_FLOW_MAP,
                        weir::v1::LOSS_REASON_NO_FLOW_MAP));
// The reasons from here on are the collector's own; no kernel counter may
// take their numbers.
static_assert(static_cast<int>(WEIR_COUNTER_MAX) ==
                  static_cast<int>(weir::v1::LOSS_REASON_UNACKED_BOUND),
              "kernel counters end where the collector's own loss "
              "reasons begin (bpf/weir_flow.h)");
static_assert(weir::v1::LOSS_REASON_UNACKED_BOUND == 10 &&
                  weir::v1::LOSS_REASON_SPOOL_FULL == 11 &&
                  weir::v1::LOSS_REASON_REJECTED == 12,
              "LossReason numbers are pinned: they reach disk");

uint64_t UnixNanos(absl::Time time) {
  return static_cast<uint64_t>(absl::ToUnixNanos(time));
}

}  // namespace

weir::v1::FlowBatch BuildBatch(
    const BatchHeader& header, const bpf::FlowTable::Interval& interval,
    const InterfaceNamer& interface_name,
    const std::function<absl::Time(uint64_t)>& to_wall) {
  weir::v1::FlowBatch batch;
  batch.set_node(header.node);
  batch.set_epoch(header.epoch);
  batch.set_seq(header.seq);
  batch.set_interval_start_unix_nano(UnixNanos(header.interval_start));
  batch.set_interval_end_unix_nano(UnixNanos(header.interval_end));
  batch.set_collector_version(header.collector_version);

  // One clock offset for the whole batch: converting each timestamp on its
  // own would let the offset move between calls, and a one-packet flow could
  // come out with first_seen after last_seen.
  const absl::Time boot = to_wall(0);
  auto wall = [boot](uint64_t ns) {
    return boot + absl::Nanoseconds(static_cast<int64_t>(ns));
  };
  absl::flat_hash_set<uint32_t> interfaces;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  batch.mutable_flows()->Reserve(static_cast<int>(interval.flows.size()));
  for (const bpf::FlowEntry& entry : interval.flows) {
    const weir_flow_key& key = entry.key;
    const weir_flow_value& value = entry.value;
    weir::v1::IngestFlow* flow = batch.add_flows();
    flow->set_ifindex(key.ifindex);
    // weir_direction numbers equal weir.v1.Direction (weir_flow.h).
    flow->set_direction(static_cast<weir::v1::Direction>(key.direction));
    flow->set_protocol(key.protocol);
    flow->set_src_addr(CompactAddress(key.src_addr));
    flow->set_dst_addr(CompactAddress(key.dst_addr));
    flow->set_src_port(key.src_port);
    flow->set_dst_port(key.dst_port);
    flow->set_icmp_type(key.icmp_type);
    flow->set_icmp_code(key.icmp_code);
    flow->set_fragment((key.flags & WEIR_FLOW_F_FRAGMENT) != 0);
    flow->set_packets(value.packets);
    flow->set_bytes(value.bytes);
    // A flow that started on another CPU's copy may have first_seen 0 on
    // this one; FlowTable merges the earliest non-zero.
    const uint64_t first =
        value.first_seen_ns != 0
            ? std::min(value.first_seen_ns, value.last_seen_ns)
            : value.last_seen_ns;
    flow->set_first_seen_unix_nano(UnixNanos(wall(first)));
    flow->set_last_seen_unix_nano(UnixNanos(wall(value.last_seen_ns)));
    flow->set_tcp_flags(value.tcp_flags & 0xff);
    packets += value.packets;
    bytes += value.bytes;
    interfaces.insert(key.ifindex);
  }
  for (uint32_t ifindex : interfaces) {
    weir::v1::Interface* interface = batch.add_interfaces();
    interface->set_ifindex(ifindex);
    interface->set_name(interface_name(ifindex));
  }

  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_seen(interval.counters.seen().packets);
  counters->set_bytes_seen(interval.counters.seen().bytes);
  counters->set_packets_exported(packets);
  counters->set_bytes_exported(bytes);
  // Counter index i > 0 is weir.v1.LossReason i (weir_flow.h).
  for (int i = WEIR_COUNTER_SEEN + 1; i < WEIR_COUNTER_MAX; ++i) {
    const weir_counter& lost =
        interval.counters.at(static_cast<weir_counter_index>(i));
    AddLoss(static_cast<weir::v1::LossReason>(i), lost.packets, lost.bytes,
            counters);
  }
  return batch;
}

}  // namespace weir::collector
