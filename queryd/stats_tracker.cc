#include "queryd/stats_tracker.h"

#include <algorithm>

#include "common/saturating.h"

namespace weir::queryd {

void StatsTracker::RecordBatch(const weir::v1::FlowBatch& batch,
                               absl::Time now) {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (const weir::v1::IngestFlow& flow : batch.flows()) {
    SaturatingAddTo(packets, flow.packets());
    SaturatingAddTo(bytes, flow.bytes());
  }
  const int64_t second = absl::ToUnixSeconds(now);
  absl::MutexLock lock(&mu_);
  ++totals_.batches;
  totals_.flows += batch.flows_size();
  SaturatingAddTo(totals_.packets, packets);
  SaturatingAddTo(totals_.bytes, bytes);
  totals_.lag = now - absl::FromUnixNanos(
                          static_cast<int64_t>(batch.interval_end_unix_nano()));
  Second& slot = ring_[second % ring_.size()];
  if (slot.second != second) slot = Second{second, 0, 0, 0};
  SaturatingAddTo(slot.packets, packets);
  SaturatingAddTo(slot.bytes, bytes);
  slot.flows += batch.flows_size();
}

void StatsTracker::RecordDuplicate() {
  absl::MutexLock lock(&mu_);
  ++totals_.duplicates;
}

void StatsTracker::RecordReject(absl::StatusCode /*code*/) {
  absl::MutexLock lock(&mu_);
  ++totals_.rejects;
}

StatsTracker::Snapshot StatsTracker::Take(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  Snapshot snapshot = totals_;
  snapshot.started = started_;
  // The last kRateWindowSeconds whole seconds, not the current partial one.
  const int64_t current = absl::ToUnixSeconds(now);
  uint64_t packets = 0, bytes = 0, flows = 0;
  for (const Second& slot : ring_) {
    if (slot.second < current && slot.second >= current - kRateWindowSeconds) {
      SaturatingAddTo(packets, slot.packets);
      SaturatingAddTo(bytes, slot.bytes);
      flows += slot.flows;
    }
  }
  // Shortly after start the window is only as long as queryd has run.
  const double window = std::clamp(
      absl::ToDoubleSeconds(absl::Seconds(current) -
                            absl::Seconds(absl::ToUnixSeconds(started_))),
      1.0, static_cast<double>(kRateWindowSeconds));
  snapshot.packets_per_second = packets / window;
  snapshot.bytes_per_second = bytes / window;
  snapshot.flows_per_second = flows / window;
  return snapshot;
}

}  // namespace weir::queryd
