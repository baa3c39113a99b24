#include "queryd/store/store_types.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "common/saturating.h"

namespace weir::store {

bool IsV4Mapped(const Address& address) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(address.data(), kPrefix, sizeof(kPrefix)) == 0;
}

bool AddressFromBytes(absl::string_view bytes, Address* out) {
  if (bytes.size() == 16) {
    std::memcpy(out->data(), bytes.data(), 16);
    return true;
  }
  if (bytes.size() == 4) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, bytes.data(), 4);
    return true;
  }
  return false;
}

Totals& Totals::operator+=(const Totals& other) {
  SaturatingAddTo(bytes, other.bytes);
  SaturatingAddTo(packets, other.packets);
  SaturatingAddTo(flows, other.flows);
  if (other.first_seen_unix_nano != 0 &&
      (first_seen_unix_nano == 0 ||
       other.first_seen_unix_nano < first_seen_unix_nano)) {
    first_seen_unix_nano = other.first_seen_unix_nano;
  }
  last_seen_unix_nano =
      std::max(last_seen_unix_nano, other.last_seen_unix_nano);
  damaged = damaged || other.damaged;
  return *this;
}

uint64_t NodeCounters::lost_packets() const {
  uint64_t sum = 0;
  for (const LossTotal& loss : losses) SaturatingAddTo(sum, loss.packets);
  return sum;
}

std::vector<FlowRecord> FlowRecordsOf(const weir::v1::FlowBatch& batch) {
  absl::flat_hash_map<uint32_t, const std::string*> names;
  for (const weir::v1::Interface& interface : batch.interfaces()) {
    names[interface.ifindex()] = &interface.name();
  }
  std::vector<FlowRecord> records;
  records.reserve(batch.flows_size());
  for (const weir::v1::IngestFlow& flow : batch.flows()) {
    FlowRecord& record = records.emplace_back();
    record.node = batch.node();
    record.ifindex = flow.ifindex();
    if (auto it = names.find(flow.ifindex()); it != names.end()) {
      record.ifname = *it->second;
    }
    record.direction = flow.direction();
    record.protocol = static_cast<uint8_t>(flow.protocol());
    AddressFromBytes(flow.src_addr(), &record.src_addr);
    AddressFromBytes(flow.dst_addr(), &record.dst_addr);
    record.src_port = static_cast<uint16_t>(flow.src_port());
    record.dst_port = static_cast<uint16_t>(flow.dst_port());
    record.icmp_type = static_cast<uint8_t>(flow.icmp_type());
    record.icmp_code = static_cast<uint8_t>(flow.icmp_code());
    record.fragment = flow.fragment();
    record.tcp_flags = static_cast<uint8_t>(flow.tcp_flags());
    record.packets = flow.packets();
    record.bytes = flow.bytes();
    record.first_seen_unix_nano = flow.first_seen_unix_nano();
    record.last_seen_unix_nano = flow.last_seen_unix_nano();
  }
  return records;
}

}  // namespace weir::store
