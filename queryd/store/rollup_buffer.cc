#include "queryd/store/rollup_buffer.h"

#include "queryd/store/key_codec.h"

namespace weir::store {
namespace {

template <typename Key>
void AddAllTotals(const absl::flat_hash_map<Key, Totals>& from,
                  absl::flat_hash_map<Key, Totals>* to) {
  for (const auto& [key, sum] : from) (*to)[key] += sum;
}

}  // namespace

void CounterSums::AddAll(const CounterSums& other) {
  for (int i = 0; i < 2; ++i) {
    for (const auto& [key, sum] : other.counters[i]) {
      AddCounters(sum, &counters[i][key]);
    }
  }
}

void AddCounterRollups(const CounterVector& counters,
                       uint64_t interval_start_unix_nano, uint32_t node_id,
                       const Cutoffs& cutoff_sec, CounterSums* sums) {
  RollupKey rollup;
  rollup.view = View::kNodeCounters;
  rollup.node_id = node_id;
  for (Tier tier : kRollupTiers) {
    rollup.bucket_start_sec = BucketStartSec(interval_start_unix_nano, tier);
    if (rollup.bucket_start_sec < cutoff_sec[static_cast<int>(tier)]) continue;
    AddCounters(counters,
                &sums->counters[RollupIndex(tier)][EncodeRollupKey(rollup)]);
  }
}

void BaseSums::Add(uint64_t bucket_sec, const FlowRecord& flow,
                   uint32_t node_id, const Totals& totals) {
  pair[{bucket_sec, flow.src_addr, flow.dst_addr}] += totals;
  src_port[{bucket_sec, flow.protocol, flow.src_port}] += totals;
  dst_port[{bucket_sec, flow.protocol, flow.dst_port}] += totals;
  interface[{
    bucket_sec, node_id, static_cast<uint8_t>(flow.direction), flow.ifname}] += totals;
}

void BaseSums::ReserveLike(const BaseSums& other) {
  pair.reserve(other.pair.size());
  src_port.reserve(other.src_port.size());
  dst_port.reserve(other.dst_port.size());
  interface.reserve(other.interface.size());
}

void BaseSums::AddAll(const BaseSums& other) {
  AddAllTotals(other.pair, &pair);
  AddAllTotals(other.src_port, &src_port);
  AddAllTotals(other.dst_port, &dst_port);
  AddAllTotals(other.interface, &interface);
}

void RollupBuffer::AddAll(const RollupBuffer& other) {
  minute.AddAll(other.minute);
  hour_only.AddAll(other.hour_only);
  counters.AddAll(other.counters);
  pending.insert(pending.end(), other.pending.begin(), other.pending.end());
  raw_from_ns = std::min(raw_from_ns, other.raw_from_ns);
}

bool Bufferable(const FlowRecord& flow, const Cutoffs& cutoff_sec) {
  return BucketStartSec(flow.last_seen_unix_nano, Tier::kHour) >=
         cutoff_sec[static_cast<int>(Tier::kHour)];
}

bool AddFlow(const FlowRecord& flow, uint32_t node_id,
             const Cutoffs& cutoff_sec, RollupBuffer* sums) {
  const Totals totals = {flow.bytes,
                         flow.packets,
                         1,
                         flow.first_seen_unix_nano,
                         flow.last_seen_unix_nano,
                         false};
  const uint64_t minute =
      BucketStartSec(flow.last_seen_unix_nano, Tier::kMinute);
  if (minute >= cutoff_sec[static_cast<int>(Tier::kMinute)]) {
    sums->minute.Add(minute, flow, node_id, totals);
    return true;
  }
  const uint64_t hour = BucketStartSec(flow.last_seen_unix_nano, Tier::kHour);
  if (hour >= cutoff_sec[static_cast<int>(Tier::kHour)]) {
    sums->hour_only.Add(hour, flow, node_id, totals);
    return true;
  }
  return false;
}

}  // namespace weir::store
