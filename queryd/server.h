// weir-queryd assembled: the store, the ingest and query services on one
// gRPC server (with reflection and grpc.health.v1), the live table, the
// watchers and the retention timer.
#ifndef WEIR_QUERYD_SERVER_H_
#define WEIR_QUERYD_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "queryd/ingest_service.h"
#include "queryd/live_table.h"
#include "queryd/options.h"
#include "queryd/query/query_engine.h"
#include "queryd/query_service.h"
#include "queryd/stats_tracker.h"
#include "queryd/store/retention_timer.h"
#include "queryd/store/store.h"
#include "queryd/watch_hub.h"

namespace weir::queryd {

class Server {
 public:
  // Opens the store and starts serving on options.grpc_address (port 0
  // picks a free port; see grpc_port()).
  static absl::StatusOr<std::unique_ptr<Server>> BuildAndStart(
      const QuerydOptions& options);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int grpc_port() const { return grpc_port_; }
  // For in-process clients (tests, the HTTP gateway).
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // Stops accepting calls, ends streams, waits up to `grace` for calls in
  // flight. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  Server() = default;

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StatsTracker> stats_;
  std::unique_ptr<LiveTable> live_;
  std::unique_ptr<WatchHub> watchers_;
  std::unique_ptr<query::QueryEngine> engine_;
  std::unique_ptr<IngestServiceImpl> ingest_;
  std::unique_ptr<QueryServiceImpl> query_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<store::RetentionTimer> retention_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_SERVER_H_
