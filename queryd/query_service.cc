#include "queryd/query_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"
#include "queryd/flow_records.h"

namespace weir::queryd {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(duration));
}

// Finishes a unary call with an engine result.
template <typename Response>
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                 absl::StatusOr<Response> result,
                                 Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const grpc::Status status = ToGrpcStatus(result.status());
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string{status.message()});
}

QueryServiceImpl::QueryServiceImpl(QueryServiceOptions options,
                                   const store::Store& store,
                                   query::QueryEngine& engine, LiveTable& live,
                                   WatchHub& watchers, StatsTracker& stats,
                                   const IngestServiceImpl& ingest)
    : options_(options),
      store_(store),
      engine_(engine),
      live_(live),
      watchers_(watchers),
      stats_(stats),
      ingest_(ingest) {}

weir::v1::Stats QueryServiceImpl::BuildStats(absl::Time now) const {
  const StatsTracker::Snapshot snapshot = stats_.Take(now);
  weir::v1::Stats stats;
  *stats.mutable_time() = ToProto(now);
  *stats.mutable_uptime() = ToProto(now - snapshot.started);
  // Totals come from the store, so they survive restarts.
  uint64_t packets = 0, bytes = 0, flows = 0, lost = 0;
  uint32_t nodes = 0;
  for (const store::NodeInfo& node : store_.GetNodes()) {
    packets += node.counters.packets_exported;
    bytes += node.counters.bytes_exported;
    flows += node.flows;
    lost += node.counters.lost_packets();
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

grpc::ServerUnaryReactor* QueryServiceImpl::Health(
    grpc::CallbackServerContext* context, const weir::v1::HealthRequest*,
    weir::v1::HealthResponse* response) {
  const StatsTracker::Snapshot snapshot = stats_.Take();
  response->set_status("ok");
  response->set_version(kWeirVersion);
  *response->mutable_uptime() = ToProto(absl::Now() - snapshot.started);
  response->set_flows_ingested(snapshot.flows);
  response->set_collectors_connected(ingest_.connected());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetStats(
    grpc::CallbackServerContext* context, const weir::v1::GetStatsRequest*,
    weir::v1::Stats* response) {
  *response = BuildStats(absl::Now());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListFlows(
    grpc::CallbackServerContext* context,
    const weir::v1::ListFlowsRequest* request,
    weir::v1::ListFlowsResponse* response) {
  return Answer(context, engine_.ListFlows(*request), response);
}

grpc::ServerUnaryReactor* QueryServiceImpl::TopTalkers(
    grpc::CallbackServerContext* context,
    const weir::v1::TopTalkersRequest* request,
    weir::v1::TopTalkersResponse* response) {
  return Answer(context, engine_.TopTalkers(*request), response);
}

grpc::ServerUnaryReactor* QueryServiceImpl::TimeSeries(
    grpc::CallbackServerContext* context,
    const weir::v1::TimeSeriesRequest* request,
    weir::v1::TimeSeriesResponse* response) {
  return Answer(context, engine_.TimeSeries(*request), response);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListConnections(
    grpc::CallbackServerContext* context,
    const weir::v1::ListConnectionsRequest* request,
    weir::v1::ListConnectionsResponse* response) {
  return Answer(context, live_.List(*request, absl::Now()), response);
}

grpc::ServerUnaryReactor* QueryServiceImpl::ListNodes(
    grpc::CallbackServerContext* context,
    const weir::v1::ListNodesRequest* request,
    weir::v1::ListNodesResponse* response) {
  return Answer(context, engine_.ListNodes(*request), response);
}

// WatchFlows: drains its WatchQueue into the stream, one write at a time.
// `writing_` says who owns the outgoing message; Finish is called only when
// no write is outstanding, so the reactor outlives every StartWrite.
class QueryServiceImpl::WatchFlowsReactor final
    : public grpc::ServerWriteReactor<weir::v1::WatchFlowsResponse> {
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
    StartWrite(&message_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      if (ok && !done_ && NextLocked()) {
        // Keep writing_ set: this thread owns message_.
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
    StartWrite(&message_);
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
  // Fills message_ with the next queued flow; false when none.
  bool NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    store::FlowRecord flow;
    if (!queue_->Pop(&flow)) return false;
    message_.Clear();
    *message_.mutable_flow() = FlowToProto(flow);
    message_.set_dropped(queue_->dropped());
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
  weir::v1::WatchFlowsResponse message_;
};

grpc::ServerWriteReactor<weir::v1::WatchFlowsResponse>*
QueryServiceImpl::WatchFlows(grpc::CallbackServerContext* context,
                             const weir::v1::WatchFlowsRequest* request) {
  absl::StatusOr<query::FlowFilter> filter =
      query::FlowFilter::Compile(request->filter(), "filter");
  if (!filter.ok()) {
    class Rejected final
        : public grpc::ServerWriteReactor<weir::v1::WatchFlowsResponse> {
     public:
      explicit Rejected(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Rejected(ToGrpcStatus(filter.status()));
  }
  return new WatchFlowsReactor(watchers_, *std::move(filter),
                               options_.watch_queue_capacity);
}

// WatchStats: one Stats message now and then every interval, paced by a
// gRPC alarm. At most one of {alarm, write} is pending at a time.
class QueryServiceImpl::WatchStatsReactor final
    : public grpc::ServerWriteReactor<weir::v1::Stats> {
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
      message_ = service_.BuildStats(absl::Now());
      writing_ = true;
    }
    StartWrite(&message_);
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
  weir::v1::Stats message_;
};

grpc::ServerWriteReactor<weir::v1::Stats>* QueryServiceImpl::WatchStats(
    grpc::CallbackServerContext* context,
    const weir::v1::WatchStatsRequest* request) {
  absl::Duration interval = absl::Seconds(1);
  absl::Status status;
  if (request->has_interval()) {
    const auto& d = request->interval();
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
  if (!status.ok()) {
    class Rejected final : public grpc::ServerWriteReactor<weir::v1::Stats> {
     public:
      explicit Rejected(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Rejected(ToGrpcStatus(status));
  }
  return new WatchStatsReactor(*this, interval);
}

}  // namespace weir::queryd
