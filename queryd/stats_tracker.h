// Ingest counters and rates for GetStats, WatchStats and /metrics.
#ifndef WEIR_QUERYD_STATS_TRACKER_H_
#define WEIR_QUERYD_STATS_TRACKER_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "weir/v1/ingest.pb.h"

namespace weir::queryd {

class StatsTracker {
 public:
  // Rates are averaged over this window of whole seconds.
  static constexpr int kRateWindowSeconds = 10;

  explicit StatsTracker(absl::Time started = absl::Now()) : started_(started) {}

  void RecordBatch(const weir::v1::FlowBatch& batch,
                   absl::Time now = absl::Now());
  void RecordDuplicate();
  void RecordReject(absl::StatusCode code);

  struct Snapshot {
    absl::Time started;
    uint64_t batches = 0;     // stored since start
    uint64_t duplicates = 0;  // acked as already stored
    uint64_t rejects = 0;     // malformed or failed
    uint64_t flows = 0;       // records stored since start
    uint64_t packets = 0;
    uint64_t bytes = 0;
    double packets_per_second = 0;
    double bytes_per_second = 0;
    double flows_per_second = 0;
    // Wall clock minus the newest interval end of a stored batch: how far
    // behind real time ingest is.
    absl::Duration lag = absl::ZeroDuration();
  };
  Snapshot Take(absl::Time now = absl::Now()) const;

 private:
  struct Second {
    int64_t second = -1;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    uint64_t flows = 0;
  };

  const absl::Time started_;
  mutable absl::Mutex mu_;
  Snapshot totals_ ABSL_GUARDED_BY(mu_);
  std::array<Second, kRateWindowSeconds + 1> ring_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_STATS_TRACKER_H_
