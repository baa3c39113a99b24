#include "queryd/store/value_codec.h"

#include <algorithm>

#include "common/saturating.h"
#include "queryd/store/encoding.h"

namespace weir::store {
namespace {

constexpr uint8_t kFragmentFlag = 0x01;

void AppendCounterVector(const CounterVector& counters, std::string* out) {
  const size_t n = std::min(counters.size(), kMaxCounterSlots);
  PutU8(out, static_cast<uint8_t>(n));
  for (size_t i = 0; i < n; ++i) PutU64(out, counters[i]);
}

bool GetCounterVector(Reader* reader, CounterVector* counters) {
  uint8_t n;
  if (!reader->GetU8(&n) || reader->remaining() < size_t{n} * 8) return false;
  counters->resize(n);
  for (uint8_t i = 0; i < n; ++i) reader->GetU64(&(*counters)[i]);
  return true;
}

}  // namespace

void AppendRawValue(const FlowRecord& flow, std::string* out) {
  PutU8(out, kRawValueVersion);
  PutU32(out, flow.ifindex);
  PutU8(out, static_cast<uint8_t>(flow.direction));
  PutU8(out, flow.protocol);
  PutU8(out, flow.fragment ? kFragmentFlag : 0);
  PutArray(out, flow.src_addr);
  PutArray(out, flow.dst_addr);
  PutU16(out, flow.src_port);
  PutU16(out, flow.dst_port);
  PutU8(out, flow.icmp_type);
  PutU8(out, flow.icmp_code);
  PutU8(out, flow.tcp_flags);
  PutU64(out, flow.packets);
  PutU64(out, flow.bytes);
  PutU64(out, flow.first_seen_unix_nano);
  const size_t n = std::min(flow.ifname.size(), kMaxIfnameSize);
  PutU8(out, static_cast<uint8_t>(n));
  out->append(flow.ifname.data(), n);
}

bool DecodeRawValue(absl::string_view in, FlowRecord* flow) {
  Reader reader(in);
  uint8_t version, direction, flags, ifname_size;
  absl::string_view ifname;
  if (!reader.GetU8(&version) || version != kRawValueVersion ||
      !reader.GetU32(&flow->ifindex) || !reader.GetU8(&direction) ||
      !reader.GetU8(&flow->protocol) || !reader.GetU8(&flags) ||
      !reader.GetArray(&flow->src_addr) || !reader.GetArray(&flow->dst_addr) ||
      !reader.GetU16(&flow->src_port) || !reader.GetU16(&flow->dst_port) ||
      !reader.GetU8(&flow->icmp_type) || !reader.GetU8(&flow->icmp_code) ||
      !reader.GetU8(&flow->tcp_flags) || !reader.GetU64(&flow->packets) ||
      !reader.GetU64(&flow->bytes) ||
      !reader.GetU64(&flow->first_seen_unix_nano) ||
      !reader.GetU8(&ifname_size) || !reader.GetBytes(ifname_size, &ifname) ||
      reader.remaining() != 0) {
    return false;
  }
  flow->direction = static_cast<weir::v1::Direction>(direction);
  flow->fragment = (flags & kFragmentFlag) != 0;
  flow->ifname.assign(ifname.data(), ifname.size());
  return true;
}

void RawBlockBuilder::Reset() {
  data_.clear();
  count_ = 0;
  PutU8(&data_, kRawBlockVersion);
  PutU32(&data_, 0);
}

void RawBlockBuilder::Add(uint64_t last_seen_unix_nano, uint32_t index,
                          const FlowRecord& flow) {
  PutU64(&data_, last_seen_unix_nano);
  PutU32(&data_, index);
  AppendRawValue(flow, &data_);
  ++count_;
}

absl::string_view RawBlockBuilder::value() {
  for (int i = 0; i < 4; ++i) {
    data_[1 + i] = static_cast<char>(count_ >> (8 * (3 - i)));
  }
  return data_;
}

bool RawBlock::Parse(absl::string_view value) {
  // A version 1 raw value is 72 bytes and the interface name, whose
  // length is its last fixed byte.
  constexpr size_t kFixed = 72;
  records_.clear();
  Reader reader(value);
  uint8_t version;
  uint32_t count;
  if (!reader.GetU8(&version) || version != kRawBlockVersion ||
      !reader.GetU32(&count) || count > reader.remaining() / (12 + kFixed)) {
    return false;
  }
  records_.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Record record;
    absl::string_view fixed;
    absl::string_view name;
    if (!reader.GetU64(&record.last_seen) || !reader.GetU32(&record.index) ||
        !reader.GetBytes(kFixed, &fixed) ||
        !reader.GetBytes(static_cast<uint8_t>(fixed.back()), &name)) {
      return false;
    }
    record.value = absl::string_view(fixed.data(), fixed.size() + name.size());
    records_.push_back(record);
  }
  return reader.remaining() == 0;
}

bool RawBlock::Flow(size_t i, FlowRecord* flow) const {
  if (!DecodeRawValue(records_[i].value, flow)) return false;
  flow->last_seen_unix_nano = records_[i].last_seen;
  return true;
}

void AppendTotalsValue(const Totals& totals, std::string* out) {
  PutU8(out, kRollupValueVersion);
  PutU8(out, static_cast<uint8_t>(RollupKind::kTotals));
  PutU8(out, totals.damaged ? kDamagedFlag : 0);
  PutU64(out, totals.bytes);
  PutU64(out, totals.packets);
  PutU64(out, totals.flows);
  PutU64(out, totals.first_seen_unix_nano);
  PutU64(out, totals.last_seen_unix_nano);
}

bool DecodeTotalsValue(absl::string_view in, Totals* totals) {
  Reader reader(in);
  uint8_t version, kind, flags;
  if (in.size() != kTotalsValueSize || !reader.GetU8(&version) ||
      version != kRollupValueVersion || !reader.GetU8(&kind) ||
      kind != static_cast<uint8_t>(RollupKind::kTotals) ||
      !reader.GetU8(&flags)) {
    return false;
  }
  reader.GetU64(&totals->bytes);
  reader.GetU64(&totals->packets);
  reader.GetU64(&totals->flows);
  reader.GetU64(&totals->first_seen_unix_nano);
  reader.GetU64(&totals->last_seen_unix_nano);
  totals->damaged = (flags & kDamagedFlag) != 0;
  return true;
}

void AppendCountersValue(const CounterVector& counters, bool damaged,
                         std::string* out) {
  PutU8(out, kRollupValueVersion);
  PutU8(out, static_cast<uint8_t>(RollupKind::kCounters));
  PutU8(out, damaged ? kDamagedFlag : 0);
  AppendCounterVector(counters, out);
}

bool DecodeCountersValue(absl::string_view in, CounterVector* counters,
                         bool* damaged) {
  Reader reader(in);
  uint8_t version, kind, flags;
  if (!reader.GetU8(&version) || version != kRollupValueVersion ||
      !reader.GetU8(&kind) ||
      kind != static_cast<uint8_t>(RollupKind::kCounters) ||
      !reader.GetU8(&flags) || !GetCounterVector(&reader, counters) ||
      reader.remaining() != 0) {
    return false;
  }
  *damaged = (flags & kDamagedFlag) != 0;
  return true;
}

bool PeekRollupKind(absl::string_view in, RollupKind* kind) {
  if (in.size() < 3 || static_cast<uint8_t>(in[0]) != kRollupValueVersion) {
    return false;
  }
  const uint8_t k = static_cast<uint8_t>(in[1]);
  if (k != static_cast<uint8_t>(RollupKind::kTotals) &&
      k != static_cast<uint8_t>(RollupKind::kCounters) &&
      k != static_cast<uint8_t>(RollupKind::kBlock)) {
    return false;
  }
  *kind = static_cast<RollupKind>(k);
  return true;
}

CounterVector CountersFromProto(const weir::v1::Counters& counters) {
  size_t size = kBytesExportedSlot + 1;
  for (const weir::v1::LossCount& loss : counters.losses()) {
    if (loss.reason() > 0 && LossBytesSlot(loss.reason()) < kMaxCounterSlots) {
      size = std::max(size, LossBytesSlot(loss.reason()) + 1);
    }
  }
  CounterVector out(size, 0);
  out[kPacketsSeenSlot] = counters.packets_seen();
  out[kBytesSeenSlot] = counters.bytes_seen();
  out[kPacketsExportedSlot] = counters.packets_exported();
  out[kBytesExportedSlot] = counters.bytes_exported();
  for (const weir::v1::LossCount& loss : counters.losses()) {
    if (loss.reason() > 0 && LossBytesSlot(loss.reason()) < kMaxCounterSlots) {
      SaturatingAddTo(out[LossPacketsSlot(loss.reason())], loss.packets());
      SaturatingAddTo(out[LossBytesSlot(loss.reason())], loss.bytes());
    }
  }
  return out;
}

NodeCounters CountersFromVector(const CounterVector& counters) {
  auto slot = [&](size_t i) { return i < counters.size() ? counters[i] : 0; };
  NodeCounters out;
  out.packets_seen = slot(kPacketsSeenSlot);
  out.bytes_seen = slot(kBytesSeenSlot);
  out.packets_exported = slot(kPacketsExportedSlot);
  out.bytes_exported = slot(kBytesExportedSlot);
  for (int reason = 1; LossBytesSlot(reason) < counters.size(); ++reason) {
    const uint64_t packets = slot(LossPacketsSlot(reason));
    const uint64_t bytes = slot(LossBytesSlot(reason));
    if (packets == 0 && bytes == 0) continue;
    out.losses.push_back(
        {static_cast<weir::v1::LossReason>(reason), packets, bytes});
  }
  return out;
}

void AddCounters(const CounterVector& from, CounterVector* to) {
  if (to->size() < from.size()) to->resize(from.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) {
    SaturatingAddTo((*to)[i], from[i]);
  }
}

void AppendNodeState(const NodeState& state, std::string* out) {
  PutU8(out, kNodeStateVersion);
  PutU32(out, state.id);
  PutU64(out, state.epoch);
  PutU64(out, state.seq);
  PutU64(out, state.gaps);
  PutU64(out, state.stale_batches);
  PutU64(out, state.batches);
  PutU64(out, state.flows);
  PutU64(out, state.first_seen_unix_nano);
  PutU64(out, state.last_seen_unix_nano);
  const size_t n = std::min(state.version.size(), kMaxCollectorVersionSize);
  PutU16(out, static_cast<uint16_t>(n));
  out->append(state.version.data(), n);
  AppendCounterVector(state.counters, out);
}

bool DecodeNodeState(absl::string_view in, NodeState* state) {
  Reader reader(in);
  uint8_t version;
  uint16_t version_size;
  absl::string_view collector_version;
  if (!reader.GetU8(&version) || version != kNodeStateVersion ||
      !reader.GetU32(&state->id) || !reader.GetU64(&state->epoch) ||
      !reader.GetU64(&state->seq) || !reader.GetU64(&state->gaps) ||
      !reader.GetU64(&state->stale_batches) ||
      !reader.GetU64(&state->batches) || !reader.GetU64(&state->flows) ||
      !reader.GetU64(&state->first_seen_unix_nano) ||
      !reader.GetU64(&state->last_seen_unix_nano) ||
      !reader.GetU16(&version_size) ||
      !reader.GetBytes(version_size, &collector_version) ||
      !GetCounterVector(&reader, &state->counters) || reader.remaining() != 0) {
    return false;
  }
  state->version.assign(collector_version.data(), collector_version.size());
  return true;
}

void AppendPendingBatch(const PendingBatch& pending, std::string* out) {
  PutU8(out, kPendingBatchVersion);
  PutU64(out, pending.interval_start_unix_nano);
  PutU64(out, pending.raw_flows);
  PutU64(out, pending.min_last_seen_unix_nano);
  PutU64(out, pending.max_last_seen_unix_nano);
  AppendCounterVector(pending.counters, out);
}

bool DecodePendingBatch(absl::string_view in, PendingBatch* pending) {
  Reader reader(in);
  uint8_t version;
  return reader.GetU8(&version) && version == kPendingBatchVersion &&
         reader.GetU64(&pending->interval_start_unix_nano) &&
         reader.GetU64(&pending->raw_flows) &&
         reader.GetU64(&pending->min_last_seen_unix_nano) &&
         reader.GetU64(&pending->max_last_seen_unix_nano) &&
         GetCounterVector(&reader, &pending->counters) &&
         reader.remaining() == 0;
}

}  // namespace weir::store
