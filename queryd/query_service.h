// QueryService over gRPC: thin handlers that validate through the domain
// code and convert its status once. Server streams are callback reactors
// that handle cancellation and finish exactly once.
#ifndef WEIR_QUERYD_QUERY_SERVICE_H_
#define WEIR_QUERYD_QUERY_SERVICE_H_

#include <cstddef>
#include <functional>

#include "absl/time/time.h"
#include "queryd/ingest_service.h"
#include "queryd/live_table.h"
#include "queryd/query/query_engine.h"
#include "queryd/stats_tracker.h"
#include "queryd/store/store.h"
#include "queryd/watch_hub.h"
#include "weir/v1/query.grpc.pb.h"

namespace weir::queryd {

struct QueryServiceOptions {
  // Flows a WatchFlows client may fall behind by before they are dropped
  // (and counted in its `dropped`).
  size_t watch_queue_capacity = 4096;
  absl::Duration min_stats_interval = absl::Milliseconds(100);
  absl::Duration max_stats_interval = absl::Hours(1);
};

class QueryServiceImpl final : public weir::v1::QueryService::CallbackService {
 public:
  QueryServiceImpl(QueryServiceOptions options, const store::Store& store,
                   query::QueryEngine& engine, LiveTable& live,
                   WatchHub& watchers, StatsTracker& stats,
                   const IngestServiceImpl& ingest);

  // The Stats message GetStats and WatchStats send.
  weir::v1::Stats BuildStats(absl::Time now) const;

  grpc::ServerUnaryReactor* Health(grpc::CallbackServerContext* context,
                                   const weir::v1::HealthRequest* request,
                                   weir::v1::HealthResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const weir::v1::GetStatsRequest* request,
                                     weir::v1::Stats* response) override;
  grpc::ServerUnaryReactor* ListFlows(
      grpc::CallbackServerContext* context,
      const weir::v1::ListFlowsRequest* request,
      weir::v1::ListFlowsResponse* response) override;
  grpc::ServerUnaryReactor* TopTalkers(
      grpc::CallbackServerContext* context,
      const weir::v1::TopTalkersRequest* request,
      weir::v1::TopTalkersResponse* response) override;
  grpc::ServerUnaryReactor* TimeSeries(
      grpc::CallbackServerContext* context,
      const weir::v1::TimeSeriesRequest* request,
      weir::v1::TimeSeriesResponse* response) override;
  grpc::ServerUnaryReactor* ListConnections(
      grpc::CallbackServerContext* context,
      const weir::v1::ListConnectionsRequest* request,
      weir::v1::ListConnectionsResponse* response) override;
  grpc::ServerUnaryReactor* ListNodes(
      grpc::CallbackServerContext* context,
      const weir::v1::ListNodesRequest* request,
      weir::v1::ListNodesResponse* response) override;
  grpc::ServerWriteReactor<weir::v1::WatchFlowsResponse>* WatchFlows(
      grpc::CallbackServerContext* context,
      const weir::v1::WatchFlowsRequest* request) override;
  grpc::ServerWriteReactor<weir::v1::Stats>* WatchStats(
      grpc::CallbackServerContext* context,
      const weir::v1::WatchStatsRequest* request) override;

 private:
  class WatchFlowsReactor;
  class WatchStatsReactor;

  const QueryServiceOptions options_;
  const store::Store& store_;
  query::QueryEngine& engine_;
  LiveTable& live_;
  WatchHub& watchers_;
  StatsTracker& stats_;
  const IngestServiceImpl& ingest_;
};

// absl::Status to grpc::Status (same canonical codes).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_QUERY_SERVICE_H_
