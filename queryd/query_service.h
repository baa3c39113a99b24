// QueryService over gRPC: thin handlers that validate through the domain
// code and convert its status once. Server streams are callback reactors
// that handle cancellation and finish exactly once.
#ifndef WEIR_QUERYD_QUERY_SERVICE_H_
#define WEIR_QUERYD_QUERY_SERVICE_H_

#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/peer_counter.h"
#include "grpcpp/support/byte_buffer.h"
#include "queryd/auth/authorizer.h"
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
  // Checks every call's bearer token (scope read); null: no --token-file,
  // every call runs. Must outlive the service.
  auth::Authorizer* authorizer = nullptr;
  // Watch streams one peer address may hold open at once; one more ends
  // at once with RESOURCE_EXHAUSTED. 0: no cap. In-process calls (the HTTP
  // front, which keeps its own count per client) are not counted.
  int max_streams_per_peer = 0;
  // Called when that cap refuses a stream (for a metric); may be empty.
  std::function<void()> on_stream_limit;
};

// Every method is served from the raw request bytes (gRPC's raw callback
// API) and parses them itself: gRPC 1.51's typed callback handlers answer a
// request that does not parse with UNIMPLEMENTED and an empty message
// (CallbackUnaryHandler::RunHandler drops the deserialization status), where
// the client deserves INVALID_ARGUMENT naming the message. The HTTP gateway
// reaches the same handlers through the in-process channel.
class QueryServiceImpl final : public weir::v1::QueryService::Service {
 public:
  QueryServiceImpl(QueryServiceOptions options, const store::Store& store,
                   query::QueryEngine& engine, LiveTable& live,
                   WatchHub& watchers, StatsTracker& stats,
                   const IngestServiceImpl& ingest);

  // The Stats message GetStats and WatchStats send.
  weir::v1::Stats BuildStats(absl::Time now) const;

 private:
  class WatchFlowsReactor;
  class WatchStatsReactor;

 public:
  // Every server stream: holds its place among its peer's streams until
  // it is done (and deleted).
  class StreamReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
   public:
    std::unique_ptr<PeerCounter::Slot> peer_slot;
  };

 private:
  // The unary calls on parsed requests.
  absl::StatusOr<weir::v1::HealthResponse> OnHealth(
      const weir::v1::HealthRequest& request);
  absl::StatusOr<weir::v1::Stats> OnGetStats(
      const weir::v1::GetStatsRequest& request);
  absl::StatusOr<weir::v1::ListFlowsResponse> OnListFlows(
      const weir::v1::ListFlowsRequest& request);
  absl::StatusOr<weir::v1::TopTalkersResponse> OnTopTalkers(
      const weir::v1::TopTalkersRequest& request);
  absl::StatusOr<weir::v1::TimeSeriesResponse> OnTimeSeries(
      const weir::v1::TimeSeriesRequest& request);
  absl::StatusOr<weir::v1::ListConnectionsResponse> OnListConnections(
      const weir::v1::ListConnectionsRequest& request);
  absl::StatusOr<weir::v1::ListNodesResponse> OnListNodes(
      const weir::v1::ListNodesRequest& request);
  // The server streams on parsed requests; each message is written
  // serialized.
  StreamReactor* OnWatchFlows(const weir::v1::WatchFlowsRequest& request);
  StreamReactor* OnWatchStats(const weir::v1::WatchStatsRequest& request);

  // Who may call a method: a token with scope read, or anyone (Health: a
  // caller without such a token gets its status and version only, none of
  // its counters; a token that is sent must still be known).
  enum class Access { kRead, kOpen };

  // Serves method `name` of QueryService with `call`, checking the caller's
  // token first (AuthorizeCall), then parsing the request bytes and
  // serializing the answer.
  template <typename Request, typename Response>
  void ServeUnary(
      const char* name,
      absl::StatusOr<Response> (QueryServiceImpl::*call)(const Request&),
      Access access = Access::kRead);
  template <typename Request>
  void ServeStream(const char* name,
                   StreamReactor* (QueryServiceImpl::*call)(const Request&));
  // The index of method `name` in the service; aborts unless it exists
  // and takes `input` (a broken invariant of the build).
  int MethodIndex(const char* name,
                  const google::protobuf::Descriptor* input) const;

  const QueryServiceOptions options_;
  PeerCounter streams_;
  const store::Store& store_;
  query::QueryEngine& engine_;
  LiveTable& live_;
  WatchHub& watchers_;
  StatsTracker& stats_;
  const IngestServiceImpl& ingest_;
};

// absl::Status to grpc::Status (same canonical codes).
grpc::Status ToGrpcStatus(const absl::Status& status);

// Parses `bytes` as `request`: OK, or INVALID_ARGUMENT saying that the
// request did not parse as the message type it names.
absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* request);

// `message` serialized for gRPC; INTERNAL when it cannot be.
absl::StatusOr<grpc::ByteBuffer> SerializeMessage(
    const google::protobuf::Message& message);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_QUERY_SERVICE_H_
