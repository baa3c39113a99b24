#include "queryd/query/query_engine.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/saturating.h"
#include "common/status_macros.h"
#include "common/status_util.h"
#include "queryd/query/flow_filter.h"
#include "queryd/query/grouping.h"
#include "queryd/query/page_token.h"
#include "queryd/query/proto_convert.h"
#include "queryd/query/request_validation.h"
#include "queryd/store/tier_chooser.h"

namespace weir::query {
namespace {

using weir::v1::GroupBy;

// Sums the loss counters of `choice` (its counters parts, which cover the
// whole window) per node and reason. With a node filter, only those nodes:
// losses are per node, so an interface or address filter still gets its nodes'
// whole losses.
absl::Status FillLosses(
    const store::Store& store, const store::TierChoice& choice,
    const google::protobuf::RepeatedPtrField<std::string>& node_filter,
    weir::v1::LossSummary* out) {
  const absl::flat_hash_set<std::string> wanted(node_filter.begin(),
                                                node_filter.end());
  // Ordered, so nodes come by name and reasons ascending.
  std::map<std::string, std::map<int, store::LossTotal>> by_node;
  for (const store::CountersPart& part : choice.counters) {
    WEIR_RETURN_IF_ERROR(Annotate(
        store.ScanNodeCounters(
            part.tier, part.range,
            [&](const store::NodeCountersEntry& entry) {
              if (!wanted.empty() && !wanted.contains(entry.node)) return true;
              for (const store::LossTotal& loss : entry.counters.losses) {
                if (loss.packets == 0 && loss.bytes == 0) continue;
                store::LossTotal& sum = by_node[entry.node][loss.reason];
                sum.reason = loss.reason;
                SaturatingAddTo(sum.packets, loss.packets);
                SaturatingAddTo(sum.bytes, loss.bytes);
              }
              return true;
            }),
        "reading loss counters"));
  }
  uint64_t packets = 0;
  for (const auto& [node, reasons] : by_node) {
    weir::v1::NodeLoss* node_loss = out->add_nodes();
    node_loss->set_node(node);
    for (const auto& [reason, sum] : reasons) {
      weir::v1::LossCount* count = node_loss->add_losses();
      count->set_reason(sum.reason);
      count->set_packets(sum.packets);
      count->set_bytes(sum.bytes);
      SaturatingAddTo(packets, sum.packets);
    }
  }
  out->set_packets(packets);
  return absl::OkStatus();
}

// Whether a scan's visitor needs each flow's time.
enum class Timing { kPerBucket, kNone };

// Visits every flow of `part` that matches `filter` as visit(group key,
// time, totals): raw records one by one (one flow each, at their
// last_seen), rollup entries with their bucket's start. With Timing::kNone,
// rollup entries come summed over many buckets (Store::SumRollup) and their
// time means nothing.
template <typename Visit>
absl::Status ScanPart(const store::Store& store, const store::TierPart& part,
                      const FlowFilter& filter, GroupBy group_by, Timing timing,
                      Visit&& visit) {
  if (part.tier == store::Tier::kRaw) {
    store::RawScan scan;
    scan.range = part.range;
    scan.newest_first = false;
    return Annotate(
        store.ScanRaw(scan,
                      [&](const store::FlowRecord& flow, absl::string_view) {
                        if (filter.Matches(flow)) {
                          visit(GroupKeyOf(group_by, flow),
                                absl::FromUnixNanos(static_cast<int64_t>(
                                    flow.last_seen_unix_nano)),
                                GroupTotals{flow.bytes, flow.packets, 1});
                        }
                        return true;
                      }),
        "scanning raw flows");
  }
  const auto visit_entry = [&](const store::RollupEntry& entry) {
    if (filter.Matches(entry)) {
      visit(GroupKeyOf(group_by, entry), entry.bucket,
            GroupTotals{entry.totals.bytes, entry.totals.packets,
                        entry.totals.flows});
    }
    return true;
  };
  return Annotate(
      timing == Timing::kNone
          ? store.SumRollup(part.tier, part.view, part.range, visit_entry)
          : store.ScanRollup(part.tier, part.view, part.range, visit_entry),
      absl::StrCat("scanning ", store::TierName(part.tier), "/",
                   store::ViewName(part.view)));
}

// True when each entry of the part's view is one group of `group_by`
// (the view keeps exactly the grouping's dimensions, so group and view key
// are the same), not a piece of a coarser one.
bool EntriesAreGroups(const store::TierPart& part, GroupBy group_by) {
  return part.tier != store::Tier::kRaw &&
         group_by != weir::v1::GROUP_BY_UNSPECIFIED &&
         store::ViewDimensions(part.view) == GroupDimensions(group_by);
}

void Add(const GroupTotals& totals, GroupTotals* sum) {
  SaturatingAddTo(sum->bytes, totals.bytes);
  SaturatingAddTo(sum->packets, totals.packets);
  SaturatingAddTo(sum->flows, totals.flows);
}

// The `limit` best groups of the window by `order_by` (GroupRanker).
//
// Summing every entry into a map of groups costs a hash lookup per entry
// and a map of every group (a day of sources: hundreds of thousands), most
// of the time of a top-N. A rollup part whose view keeps exactly the
// grouping's dimensions, summed in one run (Store::SumRollup), gives each
// group once and whole but for what the other parts add: it streams
// straight into the ranker, and only the other parts (the edges of a split
// window) are held in a map, from which each streamed group takes its
// share.
absl::StatusOr<std::vector<RankedGroup>> BestGroups(
    const store::Store& store, const store::TierChoice& choice,
    const FlowFilter& filter, GroupBy group_by, weir::v1::OrderBy order_by,
    int limit) {
  const store::TierPart* streamed = nullptr;
  for (const store::TierPart& part : choice.parts) {
    if (!EntriesAreGroups(part, group_by) ||
        part.range.end - part.range.start >
            store::TierResolution(part.tier) *
                store::Store::kMaxSummedBuckets) {
      continue;
    }
    if (streamed == nullptr ||
        part.range.end - part.range.start >
            streamed->range.end - streamed->range.start) {
      streamed = &part;
    }
  }
  GroupMap others;
  for (const store::TierPart& part : choice.parts) {
    if (&part == streamed) continue;
    WEIR_RETURN_IF_ERROR(
        ScanPart(store, part, filter, group_by, Timing::kNone,
                 [&](GroupKey&& key, absl::Time, const GroupTotals& totals) {
                   Add(totals, &others[std::move(key)]);
                 }));
  }
  GroupRanker ranker(order_by, static_cast<size_t>(limit));
  if (streamed != nullptr) {
    WEIR_RETURN_IF_ERROR(
        ScanPart(store, *streamed, filter, group_by, Timing::kNone,
                 [&](GroupKey&& key, absl::Time, const GroupTotals& totals) {
                   const auto other = others.find(key);
                   if (other == others.end()) {
                     ranker.Add(key, totals);
                     return;
                   }
                   GroupTotals sum = totals;
                   Add(other->second, &sum);
                   others.erase(other);
                   ranker.Add(key, sum);
                 }));
  }
  for (const auto& [key, totals] : others) ranker.Add(key, totals);
  return ranker.Take();
}

// What a ListFlows page token is bound to: the request without the fields
// that may change from page to page.
uint64_t ListFlowsFingerprint(const weir::v1::ListFlowsRequest& request) {
  weir::v1::ListFlowsRequest query = request;
  query.clear_page_token();
  query.clear_page_size();
  query.clear_limit();
  return QueryFingerprint(query);
}

// What every answer says of itself: where it was read (`source`), whether
// it is exact, and the losses of the nodes and window it covers.
template <typename Response>
absl::Status DescribeAnswer(
    const store::Store& store, const store::TierChoice& choice,
    absl::string_view source,
    const google::protobuf::RepeatedPtrField<std::string>& node_filter,
    Response* response) {
  response->set_source(std::string{source});
  response->set_inexact(!choice.exact);
  return FillLosses(store, choice, node_filter, response->mutable_losses());
}

// What every query reads first, checked in this order: the time range
// (against `now`) and the filter.
struct QueryScope {
  absl::Time now;
  store::TimeRange range;
  FlowFilter filter;
};

template <typename Request>
absl::StatusOr<QueryScope> ReadScope(const Request& request, absl::Time now,
                                     const QueryEngineOptions& options) {
  QueryScope scope;
  scope.now = now;
  absl::StatusOr<store::TimeRange> range = ValidateTimeRange(
      request.range(), now, "range", options.max_query_window);
  if (!range.ok()) {
    // Valid but for its length: the ceiling was hit.
    if (options.on_limit && ValidateTimeRange(request.range(), now).ok()) {
      options.on_limit("query_window");
    }
    return range.status();
  }
  scope.range = *range;
  WEIR_ASSIGN_OR_RETURN(scope.filter,
                        FlowFilter::Compile(request.filter(), "filter"));
  return scope;
}

}  // namespace

QueryEngine::QueryEngine(const store::Store& store, QueryEngineOptions options)
    : store_(store), options_(std::move(options)) {
  options_.max_page_size = std::max(1, options_.max_page_size);
  options_.default_page_size =
      std::clamp(options_.default_page_size, 1, options_.max_page_size);
}

absl::Time QueryEngine::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

absl::StatusOr<weir::v1::ListFlowsResponse> QueryEngine::ListFlows(
    const weir::v1::ListFlowsRequest& request) const {
  WEIR_ASSIGN_OR_RETURN(const QueryScope scope,
                        ReadScope(request, Now(), options_));
  const auto& [now, range, filter] = scope;
  const absl::StatusOr<int> page_size_or =
      ValidatePageSize(request.page_size(), request.limit(),
                       options_.default_page_size, options_.max_page_size);
  if (!page_size_or.ok()) {
    if (options_.on_limit && (request.page_size() > options_.max_page_size ||
                              request.limit() > options_.max_page_size)) {
      options_.on_limit("page_size");
    }
    return page_size_or.status();
  }
  const int page_size = *page_size_or;

  const uint64_t fingerprint = ListFlowsFingerprint(request);
  store::RawScan scan;
  scan.range = range;
  scan.newest_first = true;
  if (!request.page_token().empty()) {
    WEIR_ASSIGN_OR_RETURN(PageToken token,
                          DecodePageToken(request.page_token()));
    if (token.fingerprint != fingerprint) {
      return absl::InvalidArgumentError(
          "page_token: does not belong to this query; a token is only valid "
          "with the range and filter of the request that returned it");
    }
    scan.range = token.range;
    scan.cursor = std::move(token.cursor);
  }

  store::QueryNeeds needs;
  needs.dimensions = store::kDimRecords | filter.Dimensions();
  WEIR_ASSIGN_OR_RETURN(const store::TierChoice choice,
                        store_.ChooseTier(scan.range, now, needs));

  weir::v1::ListFlowsResponse response;
  std::string last_cursor;
  bool more = false;
  const absl::Status scanned = store_.ScanRaw(
      scan, [&](const store::FlowRecord& flow, absl::string_view cursor) {
        if (!filter.Matches(flow)) return true;
        // One matching flow beyond the page: there is a next page.
        if (response.flows_size() == page_size) {
          more = true;
          return false;
        }
        FlowToProto(flow, response.add_flows());
        last_cursor.assign(cursor.data(), cursor.size());
        return true;
      });
  if (!scanned.ok()) {
    // The store refuses only the cursor as an argument, and the cursor
    // came from the client's token.
    if (scanned.code() == absl::StatusCode::kInvalidArgument &&
        !scan.cursor.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "page_token: not a token of this API (", scanned.message(), ")"));
    }
    return Annotate(scanned, "scanning raw flows");
  }
  if (more) {
    response.set_next_page_token(
        EncodePageToken({fingerprint, scan.range, std::move(last_cursor)}));
  }
  // Individual flows live in raw only, whatever else the chooser says.
  WEIR_RETURN_IF_ERROR(DescribeAnswer(store_, choice,
                                      store::TierName(store::Tier::kRaw),
                                      request.filter().node(), &response));
  return response;
}

absl::StatusOr<weir::v1::TopTalkersResponse> QueryEngine::TopTalkers(
    const weir::v1::TopTalkersRequest& request) const {
  WEIR_ASSIGN_OR_RETURN(const QueryScope scope,
                        ReadScope(request, Now(), options_));
  const auto& [now, range, filter] = scope;
  WEIR_ASSIGN_OR_RETURN(
      const GroupBy group_by,
      ValidateGroupBy(request.group_by(), /*required=*/true, "group_by"));
  WEIR_ASSIGN_OR_RETURN(const weir::v1::OrderBy order_by,
                        ValidateOrderBy(request.order_by(), "order_by"));
  WEIR_ASSIGN_OR_RETURN(const int limit,
                        ValidateCount(request.limit(), kDefaultTopTalkers,
                                      kMaxTopTalkers, "limit"));

  store::QueryNeeds needs;
  needs.dimensions = GroupDimensions(group_by) | filter.Dimensions();
  WEIR_ASSIGN_OR_RETURN(const store::TierChoice choice,
                        store_.ChooseTier(range, now, needs));

  WEIR_ASSIGN_OR_RETURN(
      const std::vector<RankedGroup> best,
      BestGroups(store_, choice, filter, group_by, order_by, limit));

  weir::v1::TopTalkersResponse response;
  for (const auto& [key, totals] : best) {
    weir::v1::Talker* talker = response.add_talkers();
    SetGroupFields(group_by, key, talker);
    talker->set_bytes(totals.bytes);
    talker->set_packets(totals.packets);
    talker->set_flows(totals.flows);
  }
  WEIR_RETURN_IF_ERROR(DescribeAnswer(store_, choice, choice.source,
                                      request.filter().node(), &response));
  return response;
}

absl::StatusOr<weir::v1::TimeSeriesResponse> QueryEngine::TimeSeries(
    const weir::v1::TimeSeriesRequest& request) const {
  WEIR_ASSIGN_OR_RETURN(const QueryScope scope,
                        ReadScope(request, Now(), options_));
  const auto& [now, range, filter] = scope;
  WEIR_ASSIGN_OR_RETURN(
      const GroupBy group_by,
      ValidateGroupBy(request.group_by(), /*required=*/false, "group_by"));
  const uint32_t dimensions = GroupDimensions(group_by) | filter.Dimensions();
  WEIR_ASSIGN_OR_RETURN(
      const absl::Duration step,
      ValidateStep(request.has_step() ? &request.step() : nullptr,
                   range.end - range.start,
                   store_.SeriesResolutions(range, now, dimensions)));
  const bool grouped = group_by != weir::v1::GROUP_BY_UNSPECIFIED;
  if (!grouped && request.limit() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", request.limit(),
                     " applies only with group_by, which is unset"));
  }
  WEIR_ASSIGN_OR_RETURN(
      const int limit,
      ValidateCount(request.limit(), kDefaultSeries, kMaxSeries, "limit"));

  // Where the points' boundaries are counted from. A step the client set
  // counts from the window's start. A default one counts from the Unix
  // epoch, so the boundaries fall on bucket edges even when the window
  // does not ("the last 24 h" at 10:17:23) and rollups can hold the points;
  // the first and last points then cover only their part of the window.
  const bool step_is_default =
      !request.has_step() ||
      (request.step().seconds() == 0 && request.step().nanos() == 0);
  const absl::Time origin =
      step_is_default ? absl::UnixEpoch() +
                            absl::Floor(range.start - absl::UnixEpoch(), step)
                      : range.start;

  store::QueryNeeds needs;
  needs.dimensions = dimensions;
  needs.step = step;
  needs.step_origin = origin;
  WEIR_ASSIGN_OR_RETURN(const store::TierChoice choice,
                        store_.ChooseTier(range, now, needs));

  // Which series each group feeds. Without grouping every flow has the
  // empty key and feeds the one series. With grouping, a first pass ranks
  // the groups by bytes over the window and a second fills the points of
  // the `limit` largest only, so memory stays limit x points however many
  // groups the window has. Groups beyond the limit are left out: the
  // response has no field for an "other" series.
  std::vector<GroupKey> keys;
  if (grouped) {
    WEIR_ASSIGN_OR_RETURN(std::vector<RankedGroup> best,
                          BestGroups(store_, choice, filter, group_by,
                                     weir::v1::ORDER_BY_BYTES, limit));
    for (auto& [key, totals] : best) keys.push_back(std::move(key));
  } else {
    keys.emplace_back();
  }
  absl::flat_hash_map<GroupKey, size_t> series_of;
  for (size_t i = 0; i < keys.size(); ++i) series_of.emplace(keys[i], i);

  const int64_t points = PointCount(range.end - origin, step);
  // A bucket or record before the window (a widened, inexact choice) counts
  // in the first point, one at or after its end in the last.
  const auto point_of = [&](absl::Time t) -> int64_t {
    if (t <= origin) return 0;
    absl::Duration remainder;
    return std::min(points - 1,
                    absl::IDivDuration(t - origin, step, &remainder));
  };
  std::vector<std::vector<GroupTotals>> sums(keys.size(),
                                             std::vector<GroupTotals>(points));
  const auto add_point = [&](GroupKey&& key, absl::Time t,
                             const GroupTotals& totals) {
    const auto it = series_of.find(key);
    if (it == series_of.end()) return;
    Add(totals, &sums[it->second][point_of(t)]);
  };
  for (const store::TierPart& part : choice.parts) {
    // No group, no series to fill (keys is empty only with group_by).
    if (keys.empty()) break;
    if (!EntriesAreGroups(part, group_by)) {
      WEIR_RETURN_IF_ERROR(ScanPart(store_, part, filter, group_by,
                                    Timing::kPerBucket, add_point));
      continue;
    }
    // The ranked groups' own entries only: a few point reads per bucket
    // instead of a second scan of every group (Store::LookupRollup).
    std::vector<store::RollupEntry> wanted(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      wanted[i].view = part.view;
      wanted[i].src_addr = keys[i].src_addr;
      wanted[i].dst_addr = keys[i].dst_addr;
      wanted[i].protocol = keys[i].protocol;
      wanted[i].port = keys[i].port;
    }
    WEIR_RETURN_IF_ERROR(Annotate(
        store_.LookupRollup(
            part.tier, part.view, part.range, wanted,
            [&](const store::RollupEntry& entry) {
              add_point(GroupKeyOf(group_by, entry), entry.bucket,
                        GroupTotals{entry.totals.bytes, entry.totals.packets,
                                    entry.totals.flows});
              return true;
            }),
        absl::StrCat("reading ", store::TierName(part.tier), "/",
                     store::ViewName(part.view))));
  }

  weir::v1::TimeSeriesResponse response;
  for (size_t i = 0; i < keys.size(); ++i) {
    weir::v1::Series* series = response.add_series();
    SetGroupFields(group_by, keys[i], series->mutable_group());
    series->mutable_points()->Reserve(static_cast<int>(points));
    GroupTotals total;
    for (int64_t p = 0; p < points; ++p) {
      weir::v1::Point* point = series->add_points();
      TimeToProto(origin + p * step, point->mutable_time());
      point->set_bytes(sums[i][p].bytes);
      point->set_packets(sums[i][p].packets);
      Add(sums[i][p], &total);
    }
    // The group's totals are its points' (the flow count too, which the
    // points do not show), so they agree with the series by construction.
    series->mutable_group()->set_bytes(total.bytes);
    series->mutable_group()->set_packets(total.packets);
    series->mutable_group()->set_flows(total.flows);
  }
  DurationToProto(step, response.mutable_step());
  WEIR_RETURN_IF_ERROR(DescribeAnswer(store_, choice, choice.source,
                                      request.filter().node(), &response));
  return response;
}

absl::StatusOr<weir::v1::ListNodesResponse> QueryEngine::ListNodes(
    const weir::v1::ListNodesRequest& /*request*/) const {
  weir::v1::ListNodesResponse response;
  for (const store::NodeInfo& node : store_.GetNodes()) {
    const bool connected =
        options_.is_connected && options_.is_connected(node.name);
    NodeToProto(node, connected, response.add_nodes());
  }
  return response;
}

}  // namespace weir::query
