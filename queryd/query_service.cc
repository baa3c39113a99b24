#include "queryd/query_service.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/saturating.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/proto_buffer_writer.h"
#include "queryd/query/proto_convert.h"

namespace weir::queryd {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(duration));
}

// The service table in the constructor and query.proto disagree: a broken
// invariant of the build, not of input.
void Require(bool holds, const std::string& what) {
  if (holds) return;
  std::fprintf(stderr, "weir-queryd: %s\n", what.c_str());
  std::abort();
}

const google::protobuf::ServiceDescriptor& QueryServiceDescriptor() {
  const google::protobuf::ServiceDescriptor* service =
      weir::v1::HealthRequest::descriptor()->file()->FindServiceByName(
          "QueryService");
  Require(service != nullptr, "query.proto has no QueryService");
  return *service;
}

// A server stream that ends at once with `status`.
class Rejected final : public QueryServiceImpl::StreamReactor {
 public:
  explicit Rejected(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// What Health tells a caller without a read token: whether queryd serves,
// and its version; none of its counters. Other answers are never given to
// such a caller.
void RedactForAnonymous(weir::v1::HealthResponse* health) {
  weir::v1::HealthResponse kept;
  kept.set_status(health->status());
  kept.set_version(health->version());
  *health = std::move(kept);
}
template <typename Response>
void RedactForAnonymous(Response*) {}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string{status.message()});
}

absl::Status ParseRequest(const grpc::ByteBuffer& bytes,
                          google::protobuf::Message* request) {
  // The reader needs a mutable buffer; a copy shares the slices.
  grpc::ByteBuffer copy(bytes);
  if (copy.Valid()) {
    grpc::ProtoBufferReader reader(&copy);
    if (reader.status().ok() && request->ParseFromZeroCopyStream(&reader)) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("request: the bytes sent do not parse as ",
                   request->GetDescriptor()->full_name()));
}

absl::StatusOr<grpc::ByteBuffer> SerializeMessage(
    const google::protobuf::Message& message) {
  grpc::ByteBuffer bytes;
  bool own_buffer = false;
  const grpc::Status status = grpc::GenericSerialize<grpc::ProtoBufferWriter,
                                                     google::protobuf::Message>(
      message, &bytes, &own_buffer);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot serialize ", message.GetDescriptor()->full_name(),
                     ": ", status.error_message()));
  }
  return bytes;
}

int QueryServiceImpl::MethodIndex(
    const char* name, const google::protobuf::Descriptor* input) const {
  const google::protobuf::MethodDescriptor* method =
      QueryServiceDescriptor().FindMethodByName(name);
  Require(method != nullptr, absl::StrCat("QueryService has no method ", name));
  Require(method->input_type() == input,
          absl::StrCat("QueryService.", name, " takes ",
                       method->input_type()->full_name(), ", not ",
                       input->full_name()));
  // The generated service adds its methods in the proto's order.
  return method->index();
}

template <typename Request, typename Response>
void QueryServiceImpl::ServeUnary(
    const char* name,
    absl::StatusOr<Response> (QueryServiceImpl::*call)(const Request&),
    Access access) {
  MarkMethodRawCallback(
      MethodIndex(name, Request::descriptor()),
      new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer,
                                               grpc::ByteBuffer>(
          [this, call, access](grpc::CallbackServerContext* context,
                               const grpc::ByteBuffer* bytes,
                               grpc::ByteBuffer* response) {
            grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
            const grpc::Status allowed = auth::AuthorizeCall(
                options_.authorizer, *context, auth::Scope::kRead);
            bool anonymous = false;
            if (!allowed.ok()) {
              const bool no_token =
                  context->client_metadata().count("authorization") == 0;
              if (access != Access::kOpen ||
                  !(no_token || allowed.error_code() ==
                                    grpc::StatusCode::PERMISSION_DENIED)) {
                reactor->Finish(allowed);
                return reactor;
              }
              anonymous = true;
            }
            absl::Status status = [&]() -> absl::Status {
              Request request;
              WEIR_RETURN_IF_ERROR(ParseRequest(*bytes, &request));
              WEIR_ASSIGN_OR_RETURN(Response answer, (this->*call)(request));
              if (anonymous) RedactForAnonymous(&answer);
              WEIR_ASSIGN_OR_RETURN(*response, SerializeMessage(answer));
              return absl::OkStatus();
            }();
            reactor->Finish(ToGrpcStatus(status));
            return reactor;
          }));
}

template <typename Request>
void QueryServiceImpl::ServeStream(
    const char* name,
    StreamReactor* (QueryServiceImpl::*call)(const Request&)) {
  MarkMethodRawCallback(
      MethodIndex(name, Request::descriptor()),
      new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer,
                                                         grpc::ByteBuffer>(
          [this, call](grpc::CallbackServerContext* context,
                       const grpc::ByteBuffer* bytes) -> StreamReactor* {
            if (const grpc::Status allowed = auth::AuthorizeCall(
                    options_.authorizer, *context, auth::Scope::kRead);
                !allowed.ok()) {
              return new Rejected(allowed);
            }
            // "ipv4:192.0.2.2:40000" or "ipv6:[2001:db8::2]:40000": the
            // address is the key; in-process calls have no such peer.
            const std::string peer = context->peer();
            std::unique_ptr<PeerCounter::Slot> slot;
            if (options_.max_streams_per_peer > 0 &&
                (peer.rfind("ipv4:", 0) == 0 || peer.rfind("ipv6:", 0) == 0)) {
              PeerCounter::Refusal refusal;
              slot =
                  streams_.Acquire(peer.substr(0, peer.rfind(':')), &refusal);
              if (slot == nullptr) {
                if (options_.on_stream_limit) options_.on_stream_limit();
                return new Rejected(grpc::Status(
                    grpc::StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("too many open streams from this address "
                                 "(--max-streams-per-peer=",
                                 options_.max_streams_per_peer, ")")));
              }
            }
            Request request;
            if (absl::Status s = ParseRequest(*bytes, &request); !s.ok()) {
              return new Rejected(ToGrpcStatus(s));
            }
            StreamReactor* reactor = (this->*call)(request);
            reactor->peer_slot = std::move(slot);
            return reactor;
          }));
}

QueryServiceImpl::QueryServiceImpl(QueryServiceOptions options,
                                   const store::Store& store,
                                   query::QueryEngine& engine, LiveTable& live,
                                   WatchHub& watchers, StatsTracker& stats,
                                   const IngestServiceImpl& ingest)
    : options_(options),
      streams_(0, options.max_streams_per_peer),
      store_(store),
      engine_(engine),
      live_(live),
      watchers_(watchers),
      stats_(stats),
      ingest_(ingest) {
  ServeUnary("Health", &QueryServiceImpl::OnHealth, Access::kOpen);
  ServeUnary("GetStats", &QueryServiceImpl::OnGetStats);
  ServeUnary("ListFlows", &QueryServiceImpl::OnListFlows);
  ServeUnary("TopTalkers", &QueryServiceImpl::OnTopTalkers);
  ServeUnary("TimeSeries", &QueryServiceImpl::OnTimeSeries);
  ServeUnary("ListConnections", &QueryServiceImpl::OnListConnections);
  ServeUnary("ListNodes", &QueryServiceImpl::OnListNodes);
  ServeStream("WatchFlows", &QueryServiceImpl::OnWatchFlows);
  ServeStream("WatchStats", &QueryServiceImpl::OnWatchStats);
  // A method added to the proto without a line above would be answered by
  // the generated synchronous default (UNIMPLEMENTED): refuse to start.
  Require(QueryServiceDescriptor().method_count() == 9,
          "QueryService has a method the constructor does not serve");
}

weir::v1::Stats QueryServiceImpl::BuildStats(absl::Time now) const {
  const StatsTracker::Snapshot snapshot = stats_.Take(now);
  weir::v1::Stats stats;
  *stats.mutable_time() = ToProto(now);
  *stats.mutable_uptime() = ToProto(now - snapshot.started);
  // Totals come from the store, so they survive restarts.
  uint64_t packets = 0, bytes = 0, flows = 0, lost = 0;
  uint32_t nodes = 0;
  for (const store::NodeInfo& node : store_.GetNodes()) {
    SaturatingAddTo(packets, node.counters.packets_exported);
    SaturatingAddTo(bytes, node.counters.bytes_exported);
    SaturatingAddTo(flows, node.flows);
    SaturatingAddTo(lost, node.counters.lost_packets());
    ++nodes;
  }
  stats.set_total_packets(packets);
  stats.set_total_bytes(bytes);
  stats.set_total_flows(flows);
  stats.set_packets_per_second(snapshot.packets_per_second);
  stats.set_bytes_per_second(snapshot.bytes_per_second);
  stats.set_ingest_flows_per_second(snapshot.flows_per_second);
  stats.set_active_connections(live_.Count(now));
  stats.set_nodes(nodes);
  stats.set_nodes_connected(ingest_.connected());
  stats.set_storage_bytes(store_.ApproximateSize());
  stats.set_lost_packets(lost);
  return stats;
}

absl::StatusOr<weir::v1::HealthResponse> QueryServiceImpl::OnHealth(
    const weir::v1::HealthRequest&) {
  const StatsTracker::Snapshot snapshot = stats_.Take();
  weir::v1::HealthResponse response;
  const store::WriteState write_state = store_.GetWriteState();
  response.set_status(write_state.writable() ? "ok" : "degraded");
  response.set_store_writable(write_state.writable());
  response.set_store_state(std::string{store::CauseName(write_state.cause)});
  response.set_store_error(write_state.message);
  response.set_version(kWeirVersion);
  *response.mutable_uptime() = ToProto(absl::Now() - snapshot.started);
  response.set_flows_ingested(snapshot.flows);
  response.set_collectors_connected(ingest_.connected());
  return response;
}

absl::StatusOr<weir::v1::Stats> QueryServiceImpl::OnGetStats(
    const weir::v1::GetStatsRequest&) {
  return BuildStats(absl::Now());
}

absl::StatusOr<weir::v1::ListFlowsResponse> QueryServiceImpl::OnListFlows(
    const weir::v1::ListFlowsRequest& request) {
  return engine_.ListFlows(request);
}

absl::StatusOr<weir::v1::TopTalkersResponse> QueryServiceImpl::OnTopTalkers(
    const weir::v1::TopTalkersRequest& request) {
  return engine_.TopTalkers(request);
}

absl::StatusOr<weir::v1::TimeSeriesResponse> QueryServiceImpl::OnTimeSeries(
    const weir::v1::TimeSeriesRequest& request) {
  return engine_.TimeSeries(request);
}

absl::StatusOr<weir::v1::ListConnectionsResponse>
QueryServiceImpl::OnListConnections(
    const weir::v1::ListConnectionsRequest& request) {
  return live_.List(request, absl::Now());
}

absl::StatusOr<weir::v1::ListNodesResponse> QueryServiceImpl::OnListNodes(
    const weir::v1::ListNodesRequest& request) {
  return engine_.ListNodes(request);
}

// WatchFlows: drains its WatchQueue into the stream, one write at a time.
// `writing_` says who owns the outgoing message; Finish is called only when
// no write is outstanding, so the reactor outlives every StartWrite.
class QueryServiceImpl::WatchFlowsReactor final : public StreamReactor {
 public:
  class Queue final : public WatchQueue {
   public:
    Queue(query::FlowFilter filter, size_t capacity, WatchFlowsReactor* reactor)
        : WatchQueue(std::move(filter), capacity), reactor_(reactor) {}
    void Detach() {
      absl::MutexLock lock(&mu_);
      reactor_ = nullptr;
    }

   protected:
    void OnReadable() override {
      absl::MutexLock lock(&mu_);
      if (reactor_ != nullptr) reactor_->Wake();
    }

   private:
    absl::Mutex mu_;
    WatchFlowsReactor* reactor_ ABSL_GUARDED_BY(mu_);
  };

  WatchFlowsReactor(WatchHub& hub, query::FlowFilter filter, size_t capacity)
      : hub_(hub),
        queue_(std::make_shared<Queue>(std::move(filter), capacity, this)) {
    hub_.Subscribe(queue_);
  }

  void Wake() {
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || done_ || finished_ || !NextLocked()) return;
      writing_ = true;
    }
    StartWrite(&bytes_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      if (ok && !done_ && NextLocked()) {
        // Keep writing_ set: this thread owns bytes_.
      } else {
        writing_ = false;
        if (!ok || done_) {
          FinishLocked(ok ? grpc::Status::CANCELLED
                          : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                         "client went away"));
        }
        return;
      }
    }
    StartWrite(&bytes_);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    done_ = true;
    if (!writing_) FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    queue_->Detach();
    hub_.Unsubscribe(queue_.get());
    delete this;
  }

 private:
  // Fills bytes_ with the next queued flow; false when none.
  bool NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    store::FlowRecord flow;
    if (!queue_->Pop(&flow)) return false;
    weir::v1::WatchFlowsResponse message;
    query::FlowToProto(flow, message.mutable_flow());
    message.set_dropped(queue_->dropped());
    absl::StatusOr<grpc::ByteBuffer> bytes = SerializeMessage(message);
    if (!bytes.ok()) {
      done_ = true;
      if (!writing_) FinishLocked(ToGrpcStatus(bytes.status()));
      return false;
    }
    bytes_ = *std::move(bytes);
    return true;
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  WatchHub& hub_;
  std::shared_ptr<Queue> queue_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ByteBuffer bytes_;
};

QueryServiceImpl::StreamReactor* QueryServiceImpl::OnWatchFlows(
    const weir::v1::WatchFlowsRequest& request) {
  absl::StatusOr<query::FlowFilter> filter =
      query::FlowFilter::Compile(request.filter(), "filter");
  if (!filter.ok()) return new Rejected(ToGrpcStatus(filter.status()));
  return new WatchFlowsReactor(watchers_, *std::move(filter),
                               options_.watch_queue_capacity);
}

// WatchStats: one Stats message now and then every interval, paced by a
// gRPC alarm. At most one of {alarm, write} is pending at a time.
class QueryServiceImpl::WatchStatsReactor final : public StreamReactor {
 public:
  WatchStatsReactor(const QueryServiceImpl& service, absl::Duration interval)
      : service_(service), interval_(interval) {
    Tick(true);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || cancelled_) {
      FinishLocked(
          ok ? grpc::Status::CANCELLED
             : grpc::Status(grpc::StatusCode::UNAVAILABLE, "client went away"));
      return;
    }
    waiting_ = true;
    alarm_.Set(absl::ToChronoTime(absl::Now() + interval_),
               [this](bool fired) { Tick(fired); });
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (waiting_) {
      alarm_.Cancel();  // Tick(false) finishes
    } else if (!writing_) {
      FinishLocked(grpc::Status::CANCELLED);
    }
  }

  void OnDone() override { delete this; }

 private:
  void Tick(bool fired) {
    {
      absl::MutexLock lock(&mu_);
      waiting_ = false;
      if (!fired || cancelled_) {
        FinishLocked(grpc::Status::CANCELLED);
        return;
      }
      absl::StatusOr<grpc::ByteBuffer> bytes =
          SerializeMessage(service_.BuildStats(absl::Now()));
      if (!bytes.ok()) {
        FinishLocked(ToGrpcStatus(bytes.status()));
        return;
      }
      bytes_ = *std::move(bytes);
      writing_ = true;
    }
    StartWrite(&bytes_);
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  const QueryServiceImpl& service_;
  const absl::Duration interval_;
  grpc::Alarm alarm_;
  absl::Mutex mu_;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ByteBuffer bytes_;
};

QueryServiceImpl::StreamReactor* QueryServiceImpl::OnWatchStats(
    const weir::v1::WatchStatsRequest& request) {
  absl::Duration interval = absl::Seconds(1);
  absl::Status status;
  if (request.has_interval()) {
    const auto& d = request.interval();
    if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999999999 ||
        d.seconds() > 315576000000) {
      status = absl::InvalidArgumentError("interval: not a valid duration");
    } else {
      interval = absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
      if (interval < options_.min_stats_interval ||
          interval > options_.max_stats_interval) {
        status = absl::InvalidArgumentError(absl::StrCat(
            "interval: ", absl::FormatDuration(interval), " is outside ",
            absl::FormatDuration(options_.min_stats_interval), "..",
            absl::FormatDuration(options_.max_stats_interval)));
      }
    }
  }
  if (!status.ok()) return new Rejected(ToGrpcStatus(status));
  return new WatchStatsReactor(*this, interval);
}

}  // namespace weir::queryd
