// weir-queryd's Prometheus metrics (docs/design.md §7), served at /metrics in
// text format 0.0.4 by prometheus-cpp's TextSerializer.
//
// Where the numbers come from:
// - traffic counters (weir_packets_total, weir_bytes_total by direction and
//   node; weir_flows_total by node; the per-IP top-K series) are fed by the
//   ingest path (IngestObserver) with every stored batch, so they are exact.
//   They count since this process started, as Prometheus counters do; a
//   restart is a counter reset that rate() and increase() handle. (The
//   all-time totals are in GetStats, from the store.)
// - collector losses (weir_collector_lost_packets_total by node and reason)
//   are read from the store at scrape time: cumulative over everything
//   stored, so they survive restarts.
// - ingest counts, lag, active connections, store size, collectors
//   connected and process figures (/proc/self) are read at scrape time.
// - HTTP request counts and latency by route (the path template, never the
//   raw path) and code, and open stream clients, are kept by the HTTP front.
// - connections refused (by listener and reason) and limit hits (by limit)
//   are counted by the listeners and the HTTP front.
// The seeds' names are kept as aliases: ayaflow_packets_total,
// ayaflow_bytes_total (totals without labels), ayaflow_active_connections,
// and network_traffic_bytes_total (the same series as weir_ip_bytes_total).
#ifndef WEIR_QUERYD_METRICS_QUERYD_METRICS_H_
#define WEIR_QUERYD_METRICS_QUERYD_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "queryd/ingest_service.h"
#include "queryd/live_table.h"
#include "queryd/metrics/ip_top_k.h"
#include "queryd/stats_tracker.h"
#include "queryd/store/store.h"

namespace weir::queryd::metrics {

// What scrape-time metrics read. Any may be null (then its metrics are
// left out); all must outlive the QuerydMetrics.
struct MetricsSources {
  const store::Store* store = nullptr;
  const StatsTracker* stats = nullptr;
  LiveTable* live = nullptr;
  const IngestServiceImpl* ingest = nullptr;
};

class QuerydMetrics final : public IngestObserver {
 public:
  QuerydMetrics(MetricsSources sources, uint32_t top_k);

  QuerydMetrics(const QuerydMetrics&) = delete;
  QuerydMetrics& operator=(const QuerydMetrics&) = delete;

  void set_sources(MetricsSources sources) { sources_ = sources; }

  // IngestObserver.
  void OnStored(const weir::v1::FlowBatch& batch,
                const std::vector<store::FlowRecord>& records) override;

  // One HTTP request answered. `route` is the path template ("/v1/flows"),
  // "/metrics", or "unmatched".
  void ObserveHttpRequest(absl::string_view route, unsigned code,
                          absl::Duration latency);
  // An NDJSON or WebSocket stream opened or closed.
  void StreamOpened();
  void StreamClosed();
  // A connection closed before anything was read from it: `listener` is
  // "http" or "grpc", `reason` "allowlist" or "connections" (a connection
  // cap). Never by address, so the series stay few.
  void ConnectionRefused(absl::string_view listener, absl::string_view reason);
  // A request or connection stopped by one of the limits (--http-*,
  // --max-*): `limit` names it ("body_bytes", "streams_per_peer", ...).
  void LimitHit(absl::string_view limit);

  // Every metric, in text format 0.0.4.
  std::string Scrape(absl::Time now = absl::Now());
  // The same as metric families.
  std::vector<prometheus::MetricFamily> Collect(absl::Time now);

  static constexpr char kContentType[] =
      "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Traffic {
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };

  void CollectTraffic(absl::Time now,
                      std::vector<prometheus::MetricFamily>* families);
  void CollectState(absl::Time now,
                    std::vector<prometheus::MetricFamily>* families);

  MetricsSources sources_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_latency_;
  prometheus::Gauge& stream_clients_;
  prometheus::Family<prometheus::Counter>& connections_refused_;
  prometheus::Family<prometheus::Counter>& limit_hits_;

  absl::Mutex mu_;
  // By (node, direction).
  absl::flat_hash_map<std::pair<std::string, int>, Traffic> traffic_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> flows_ ABSL_GUARDED_BY(mu_);
  IpTopK top_k_ ABSL_GUARDED_BY(mu_);
};

// Process figures from /proc/self: process_resident_memory_bytes,
// process_virtual_memory_bytes, process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_start_time_seconds.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace weir::queryd::metrics

#endif  // WEIR_QUERYD_METRICS_QUERYD_METRICS_H_
