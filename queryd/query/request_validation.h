// Checks of the request fields every query shares: time ranges, counts,
// enums and steps. Each check names the field first ("range.start: ...",
// "page_size: ...") and fails with INVALID_ARGUMENT, so the gRPC handlers
// pass the status on unchanged (docs/design.md §5: bad input is never a silent
// default).

#ifndef WEIR_QUERYD_QUERY_REQUEST_VALIDATION_H_
#define WEIR_QUERYD_QUERY_REQUEST_VALIDATION_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "queryd/store/store_types.h"
#include "weir/v1/query.pb.h"

namespace weir::query {

// The latest time Weir can store: raw keys hold nanoseconds since the Unix
// epoch in a signed 64-bit range (2262-04-11T23:47:16.854775807Z).
absl::Time LatestStorableTime();

// A Timestamp Weir can store: nanos in 0..999999999, not before the Unix
// epoch, not after LatestStorableTime().
absl::StatusOr<absl::Time> ValidateTimestamp(
    const google::protobuf::Timestamp& timestamp, absl::string_view field);

// Resolves a request's window: unset end means `now`, unset start means end
// minus one hour (not before the Unix epoch); start must be before end.
// `field` names the range in messages ("range.start: ..."). A window
// longer than `max_window` is INVALID_ARGUMENT (--max-query-window).
absl::StatusOr<store::TimeRange> ValidateTimeRange(
    const weir::v1::TimeRange& range, absl::Time now,
    absl::string_view field = "range",
    absl::Duration max_window = absl::InfiniteDuration());

// A count such as a limit: 0 means `default_value`; negative, or above
// `max_value`, is INVALID_ARGUMENT.
absl::StatusOr<int> ValidateCount(int32_t value, int default_value,
                                  int max_value, absl::string_view field);

// ListFlows' page_size and its alias limit (the seeds' /api/history?limit=N):
// either may be set; both set to different values is INVALID_ARGUMENT.
absl::StatusOr<int> ValidatePageSize(int32_t page_size, int32_t limit,
                                     int default_value, int max_value);

// "GROUP_BY_SRC, GROUP_BY_DST, ... or GROUP_BY_DIRECTION": the names of
// every value but the unspecified one, for the hint of an error message, so
// the hint follows the proto as it grows.
std::string KnownValues(const google::protobuf::EnumDescriptor& descriptor);

// A known GroupBy; GROUP_BY_UNSPECIFIED only when `required` is false.
absl::StatusOr<weir::v1::GroupBy> ValidateGroupBy(int value, bool required,
                                                  absl::string_view field);

// A known OrderBy; ORDER_BY_UNSPECIFIED becomes ORDER_BY_BYTES.
absl::StatusOr<weir::v1::OrderBy> ValidateOrderBy(int value,
                                                  absl::string_view field);

// A Duration within the proto's own bounds (seconds within ±10000 years,
// nanos within ±999999999 and of the same sign as seconds).
absl::StatusOr<absl::Duration> ValidateDuration(
    const google::protobuf::Duration& duration, absl::string_view field);

// Most points one time series may have.
inline constexpr int64_t kMaxPointsPerSeries = 1000;
// Points the default step aims for.
inline constexpr int64_t kTargetPoints = 60;

// The smallest "nice" step at or above `at_least`: 1s, 5s, 10s, 30s, 1m,
// 5m, 10m, 30m, 1h, 3h, 6h, 12h, 1d, then whole days. Nice steps are
// multiples of the rollup resolutions, so rollup tiers can answer them.
absl::Duration NiceStep(absl::Duration at_least);

// Points of width `step` that cover `window`, the last one possibly partial.
int64_t PointCount(absl::Duration window, absl::Duration step);

// Fewest points a default step may leave when it is rounded up to a rollup
// tier's resolution.
inline constexpr int64_t kMinDefaultPoints = 12;

// TimeSeries' step over `window`: unset or zero gives the default step; a
// set step must be at least 1 s and give at most kMaxPointsPerSeries points.
//
// The default is the nice step for about kTargetPoints points, rounded up
// to a multiple of the first of `resolutions` (those of the rollup tiers
// that could answer the window, coarsest first: store::SeriesResolutions)
// that still leaves kMinDefaultPoints points. A tier answers only steps
// that are multiples of its resolution, and the nice ladder's 30 min is
// not one of an hour: over 24 h, 1 h steps (24 points) read 24 hour
// buckets per group, where 30 min steps would read 1440 minute buckets.
absl::StatusOr<absl::Duration> ValidateStep(
    const google::protobuf::Duration* step, absl::Duration window,
    absl::Span<const absl::Duration> resolutions = {},
    absl::string_view field = "step");

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_REQUEST_VALIDATION_H_
