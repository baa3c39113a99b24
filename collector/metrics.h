// The collector's own health metrics, served by prometheus-cpp's pull
// Exposer on --metrics-address: what the kernel saw, what was exported and
// lost by reason (so the reconciliation is visible per node), shipping
// state, and optionally the program's real cost from the kernel's BPF
// run-time statistics.
#ifndef WEIR_COLLECTOR_METRICS_H_
#define WEIR_COLLECTOR_METRICS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "collector/shipper.h"
#include "collector/spool.h"
#include "common/source_allowlist.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "weir/v1/ingest.pb.h"

namespace weir::collector {

class CollectorMetrics {
 public:
  // Serves /metrics on `address` (host:port) to the peers `allowed` lets
  // in; the others are closed when accepted, before a byte is read.
  static absl::StatusOr<std::unique_ptr<CollectorMetrics>> Start(
      const std::string& address,
      const SourceAllowlist& allowed = SourceAllowlist());

  // civetweb's access_control_list for a list that is not everyone: each
  // IPv4 block allowed, everything else denied. (civetweb as packaged
  // serves IPv4 only, so IPv6 blocks match no peer and are left out.)
  static std::string CivetwebAcl(const SourceAllowlist& allowed);

  // The port it listens on (the one picked when `address` had port 0).
  int port() const;

  // Adds one batch's accounting. weir_collector_unexplained_packets is
  // seen - exported - lost over all batches: zero unless something is
  // counted nowhere.
  void RecordBatch(const weir::v1::FlowBatch& batch, absl::Duration drain_time);

  // From now on every scrape reads `shipper`'s state as it is then: the
  // connection, batches acknowledged, batches handed to it and not yet
  // acknowledged, dropped, rejected, reconnects. `shipper` must outlive this
  // object.
  void WatchShipper(const Shipper* shipper);

  // The same for the spool's statistics (weir_collector_spool_*). `spool`
  // must outlive this object.
  void WatchSpool(const Spool* spool);

  // Turns the kernel's BPF run-time statistics on (kept on while this
  // object lives) for the named programs; FAILED_PRECONDITION with the fix
  // when that needs a privilege the collector does not have.
  absl::Status EnableBpfStats(
      const std::vector<std::pair<std::string, int>>& programs);
  // Reads run time and run count of the programs into their metrics.
  void RecordBpfStats();

  ~CollectorMetrics();

  prometheus::Registry& registry() { return *registry_; }

 private:
  // What the exposer collects: the registry, with the shipper's gauges
  // brought up to date first.
  class Scrape;

  CollectorMetrics() = default;
  // Sets the shipper's gauges from its state now.
  void ReadShipper();

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Scrape> scrape_;
  absl::Mutex shipper_mu_;
  const Shipper* shipper_ ABSL_GUARDED_BY(shipper_mu_) = nullptr;
  const Spool* spool_ ABSL_GUARDED_BY(shipper_mu_) = nullptr;
  prometheus::Gauge* spool_bytes_ = nullptr;
  prometheus::Gauge* spool_pending_ = nullptr;
  prometheus::Gauge* spool_oldest_ = nullptr;
  prometheus::Gauge* spool_replayed_ = nullptr;
  prometheus::Gauge* spool_torn_ = nullptr;
  prometheus::Gauge* spool_corrupted_ = nullptr;
  prometheus::Gauge* spool_full_packets_ = nullptr;
  prometheus::Gauge* spool_refused_ = nullptr;
  prometheus::Counter* packets_seen_ = nullptr;
  prometheus::Counter* bytes_seen_ = nullptr;
  prometheus::Counter* packets_exported_ = nullptr;
  prometheus::Counter* bytes_exported_ = nullptr;
  prometheus::Family<prometheus::Counter>* lost_ = nullptr;
  prometheus::Gauge* unexplained_ = nullptr;
  prometheus::Counter* batches_ = nullptr;
  prometheus::Counter* flows_ = nullptr;
  prometheus::Gauge* drain_seconds_ = nullptr;
  prometheus::Gauge* unacked_ = nullptr;
  prometheus::Gauge* connected_ = nullptr;
  prometheus::Gauge* acked_ = nullptr;
  prometheus::Gauge* dropped_ = nullptr;
  prometheus::Gauge* rejected_ = nullptr;
  prometheus::Gauge* reconnects_ = nullptr;
  prometheus::Gauge* refused_ = nullptr;
  int64_t unexplained_packets_ = 0;

  int stats_fd_ = -1;
  struct Program {
    std::string name;
    int fd;
    prometheus::Gauge* run_seconds;
    prometheus::Gauge* runs;
  };
  std::vector<Program> programs_;
};

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_METRICS_H_
