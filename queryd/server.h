// weir-queryd assembled: the store, the ingest and query services on one
// gRPC server (with reflection v1 and v1alpha and grpc.health.v1, a status
// per service), the live table, the
// watchers, the retention timer, and the HTTP front (REST transcoded from
// the QueryService annotations, NDJSON/WebSocket streams, /metrics).
#ifndef WEIR_QUERYD_SERVER_H_
#define WEIR_QUERYD_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/tls_files.h"
#include "grpcpp/grpcpp.h"
#include "queryd/auth/authorizer.h"
#include "queryd/grpc_listener.h"
#include "queryd/health_service.h"
#include "queryd/http/gateway.h"
#include "queryd/http/http_server.h"
#include "queryd/ingest_service.h"
#include "queryd/live_table.h"
#include "queryd/metrics/queryd_metrics.h"
#include "queryd/options.h"
#include "queryd/query/query_engine.h"
#include "queryd/query_service.h"
#include "queryd/reflection_service.h"
#include "queryd/stats_tracker.h"
#include "queryd/store/retention_timer.h"
#include "queryd/store/store.h"
#include "queryd/store_monitor.h"
#include "queryd/watch_hub.h"

namespace weir::queryd {

class Server {
 public:
  // Opens the store and starts serving gRPC on options.grpc_address, then
  // HTTP on options.http_address (port 0 picks a free port; see
  // grpc_port() and http_port()).
  static absl::StatusOr<std::unique_ptr<Server>> BuildAndStart(
      const QuerydOptions& options);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }
  // Re-reads --token-file now (SIGHUP); nothing without one.
  void ReloadTokens();

  // For in-process clients (tests, the HTTP gateway).
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // Sets every health status to NOT_SERVING (Watch streams send it and
  // end), stops the HTTP front (its calls are cancelled), then stops
  // accepting gRPC calls, ends streams, waits up to `grace` for calls in
  // flight. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  Server() = default;

  // Null without --token-file. Outlives every service and the HTTP front.
  std::unique_ptr<auth::Authorizer> authorizer_;
  // The TLS files both listeners serve (null without TLS); outlives them.
  std::shared_ptr<TlsFileWatcher> tls_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StatsTracker> stats_;
  std::unique_ptr<LiveTable> live_;
  std::unique_ptr<WatchHub> watchers_;
  // Fed by ingest_, read by http_: outlives both.
  std::unique_ptr<metrics::QuerydMetrics> metrics_;
  std::unique_ptr<query::QueryEngine> engine_;
  std::unique_ptr<IngestServiceImpl> ingest_;
  std::unique_ptr<QueryServiceImpl> query_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<ReflectionServiceV1> reflection_v1_;
  std::unique_ptr<ReflectionServiceV1Alpha> reflection_v1alpha_;
  std::unique_ptr<grpc::Server> grpc_;
  // Accepts gRPC's connections; stopped (and destroyed) before grpc_.
  std::unique_ptr<GrpcListener> grpc_listener_;
  std::unique_ptr<http::Gateway> gateway_;
  std::unique_ptr<http::HttpServer> http_;
  std::unique_ptr<store::RetentionTimer> retention_;
  // Sets ingest's health from the store's state and resumes the store.
  std::unique_ptr<StoreMonitor> store_monitor_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_SERVER_H_
