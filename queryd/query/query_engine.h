// What QueryService answers, as domain code: each method takes the request
// message, validates it (INVALID_ARGUMENT naming the field), reads the
// store through the one tier decision (store::ChooseTier) and returns the
// response message. The gRPC handlers only honour deadlines and convert the
// status once (STYLE.md, "Errors").
//
// Every answer names the tier and view it was read from (`source`) and
// carries the losses the collectors reported for the nodes and window it
// covers (docs/design.md §6), so a gap is never mistaken for silence.

#ifndef WEIR_QUERYD_QUERY_QUERY_ENGINE_H_
#define WEIR_QUERYD_QUERY_QUERY_ENGINE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "queryd/store/store.h"
#include "weir/v1/query.pb.h"

namespace weir::query {

// TopTalkers' limit.
inline constexpr int kDefaultTopTalkers = 10;
inline constexpr int kMaxTopTalkers = 1000;
// TimeSeries' limit (with group_by).
inline constexpr int kDefaultSeries = 10;
inline constexpr int kMaxSeries = 100;

struct QueryEngineOptions {
  // ListFlows' page_size: the default and the maximum. The default is
  // capped at the maximum, and the maximum is at least 1.
  int default_page_size = 100;
  int max_page_size = 1000;
  // The longest time range a query may ask for.
  absl::Duration max_query_window = absl::InfiniteDuration();
  // Called with "query_window" or "page_size" when a request is refused
  // for going past that ceiling (for a metric); may be empty.
  std::function<void(absl::string_view limit)> on_limit;
  // "Now", for unset range ends and retention; absl::Now when empty.
  std::function<absl::Time()> clock;
  // Whether a node has an open ingest stream (the ingest layer knows);
  // every node is disconnected when empty.
  std::function<bool(const std::string& node)> is_connected;
};

class QueryEngine {
 public:
  // `store` must outlive the engine. Thread-safe: methods are const and the
  // store is safe for concurrent reads.
  explicit QueryEngine(const store::Store& store,
                       QueryEngineOptions options = {});

  QueryEngine(const QueryEngine&) = delete;
  QueryEngine& operator=(const QueryEngine&) = delete;

  // Stored flows of the window, newest first, one page at a time. A page
  // token pins the window of the first page, so pages of "the last hour"
  // stay one consistent walk however long the client takes; a token is
  // refused with another range or filter. source is "raw".
  absl::StatusOr<weir::v1::ListFlowsResponse> ListFlows(
      const weir::v1::ListFlowsRequest& request) const;

  // The top `limit` groups of the window by bytes, packets or flows, read
  // from the coarsest tiers and smallest view that answer exactly (whole
  // buckets of the coarsest tier, the window's edges from finer ones).
  absl::StatusOr<weir::v1::TopTalkersResponse> TopTalkers(
      const weir::v1::TopTalkersRequest& request) const;

  // Bytes and packets per step of the window: one series, or with group_by
  // one per group of the `limit` largest by bytes over the window. Groups
  // beyond the limit are left out (the response has no field for the rest).
  // One point per step, zeros included. With a step set, points start at
  // the window's start and the last one is cut at the window's end when the
  // step does not divide it. With the default step, points start at whole
  // multiples of the step since the Unix epoch, so rollups can answer an
  // unaligned window: the first may start before the window and the last
  // end after it, each counting only the window's flows.
  absl::StatusOr<weir::v1::TimeSeriesResponse> TimeSeries(
      const weir::v1::TimeSeriesRequest& request) const;

  // Every node that has a stored batch, by name.
  absl::StatusOr<weir::v1::ListNodesResponse> ListNodes(
      const weir::v1::ListNodesRequest& request) const;

 private:
  absl::Time Now() const;

  const store::Store& store_;
  QueryEngineOptions options_;
};

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_QUERY_ENGINE_H_
