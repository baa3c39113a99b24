#include "queryd/query/request_validation.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace weir::query {
namespace {

constexpr int32_t kMaxNanos = 999999999;
// google.protobuf.Duration's own bound: about 10000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

}  // namespace

std::string KnownValues(const google::protobuf::EnumDescriptor& descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor.value_count(); ++i) {
    if (descriptor.value(i)->number() == 0) continue;
    names.push_back(descriptor.value(i)->name());
  }
  if (names.size() < 2) return absl::StrJoin(names, "");
  const std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

absl::Time LatestStorableTime() {
  return absl::FromUnixNanos(std::numeric_limits<int64_t>::max());
}

absl::StatusOr<absl::Time> ValidateTimestamp(
    const google::protobuf::Timestamp& timestamp, absl::string_view field) {
  if (timestamp.nanos() < 0 || timestamp.nanos() > kMaxNanos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": nanos ", timestamp.nanos(), " is outside 0..", kMaxNanos));
  }
  const absl::Time t = absl::FromUnixSeconds(timestamp.seconds()) +
                       absl::Nanoseconds(timestamp.nanos());
  if (timestamp.seconds() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", FormatUtc(t),
                     " is before the Unix epoch (1970-01-01T00:00:00Z)"));
  }
  if (t > LatestStorableTime()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", FormatUtc(t), " is after ",
        FormatUtc(LatestStorableTime()), ", the latest time Weir stores"));
  }
  return t;
}

absl::StatusOr<store::TimeRange> ValidateTimeRange(
    const weir::v1::TimeRange& range, absl::Time now, absl::string_view field,
    absl::Duration max_window) {
  const std::string start_field = absl::StrCat(field, ".start");
  const std::string end_field = absl::StrCat(field, ".end");
  store::TimeRange out;
  if (range.has_end()) {
    absl::StatusOr<absl::Time> end = ValidateTimestamp(range.end(), end_field);
    if (!end.ok()) return end.status();
    out.end = *end;
  } else {
    out.end = now;
  }
  if (range.has_start()) {
    WEIR_ASSIGN_OR_RETURN(absl::Time start,
                          ValidateTimestamp(range.start(), start_field));
    out.start = start;
  } else {
    out.start = std::max(absl::UnixEpoch(), out.end - absl::Hours(1));
  }
  if (out.start >= out.end) {
    return absl::InvalidArgumentError(
        absl::StrCat(start_field, ": ", FormatUtc(out.start),
                     range.has_start() ? "" : " (unset: the end minus 1h)",
                     " must be before ", end_field, " ", FormatUtc(out.end),
                     range.has_end() ? "" : " (unset: now)"));
  }
  if (out.end - out.start > max_window) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": the window from ", FormatUtc(out.start), " to ",
        FormatUtc(out.end), " is longer than the maximum ",
        absl::FormatDuration(max_window), " (--max-query-window)"));
  }
  return out;
}

absl::StatusOr<int> ValidateCount(int32_t value, int default_value,
                                  int max_value, absl::string_view field) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", value, " must not be negative"));
  }
  if (value > max_value) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", value, " is above the maximum ", max_value));
  }
  return value == 0 ? default_value : value;
}

absl::StatusOr<int> ValidatePageSize(int32_t page_size, int32_t limit,
                                     int default_value, int max_value) {
  if (page_size != 0 && limit != 0 && page_size != limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", limit, " differs from page_size ", page_size,
                     "; limit is an alias of page_size, set one of them"));
  }
  if (page_size != 0) {
    return ValidateCount(page_size, default_value, max_value, "page_size");
  }
  return ValidateCount(limit, default_value, max_value, "limit");
}

absl::StatusOr<weir::v1::GroupBy> ValidateGroupBy(int value, bool required,
                                                  absl::string_view field) {
  if (!weir::v1::GroupBy_IsValid(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown value ", value, "; use ",
                     KnownValues(*weir::v1::GroupBy_descriptor())));
  }
  if (required && value == weir::v1::GROUP_BY_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": required; use ",
                     KnownValues(*weir::v1::GroupBy_descriptor())));
  }
  return static_cast<weir::v1::GroupBy>(value);
}

absl::StatusOr<weir::v1::OrderBy> ValidateOrderBy(int value,
                                                  absl::string_view field) {
  if (!weir::v1::OrderBy_IsValid(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": unknown value ", value, "; use ",
                     KnownValues(*weir::v1::OrderBy_descriptor())));
  }
  return value == weir::v1::ORDER_BY_UNSPECIFIED
             ? weir::v1::ORDER_BY_BYTES
             : static_cast<weir::v1::OrderBy>(value);
}

absl::StatusOr<absl::Duration> ValidateDuration(
    const google::protobuf::Duration& duration, absl::string_view field) {
  const int64_t seconds = duration.seconds();
  const int32_t nanos = duration.nanos();
  if (seconds < -kMaxDurationSeconds || seconds > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": seconds ", seconds, " is outside -",
                     kMaxDurationSeconds, "..", kMaxDurationSeconds));
  }
  if (nanos < -kMaxNanos || nanos > kMaxNanos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": nanos ", nanos, " is outside -", kMaxNanos, "..", kMaxNanos));
  }
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": seconds ", seconds,
                                                   " and nanos ", nanos,
                                                   " must have the same sign"));
  }
  return absl::Seconds(seconds) + absl::Nanoseconds(nanos);
}

absl::Duration NiceStep(absl::Duration at_least) {
  static constexpr absl::Duration kNice[] = {
      absl::Seconds(1), absl::Seconds(5), absl::Seconds(10), absl::Seconds(30),
      absl::Minutes(1), absl::Minutes(5), absl::Minutes(10), absl::Minutes(30),
      absl::Hours(1),   absl::Hours(3),   absl::Hours(6),    absl::Hours(12),
      absl::Hours(24),
  };
  for (absl::Duration step : kNice) {
    if (step >= at_least) return step;
  }
  return absl::Ceil(at_least, absl::Hours(24));
}

int64_t PointCount(absl::Duration window, absl::Duration step) {
  absl::Duration remainder;
  const int64_t whole = absl::IDivDuration(window, step, &remainder);
  return remainder > absl::ZeroDuration() ? whole + 1 : whole;
}

absl::StatusOr<absl::Duration> ValidateStep(
    const google::protobuf::Duration* step, absl::Duration window,
    absl::Span<const absl::Duration> resolutions, absl::string_view field) {
  absl::Duration requested = absl::ZeroDuration();
  if (step != nullptr) {
    WEIR_ASSIGN_OR_RETURN(absl::Duration d, ValidateDuration(*step, field));
    requested = d;
  }
  if (requested == absl::ZeroDuration()) {
    const absl::Duration nice =
        NiceStep(std::max(absl::Seconds(1), window / kTargetPoints));
    for (absl::Duration resolution : resolutions) {
      const absl::Duration aligned = absl::Ceil(nice, resolution);
      if (PointCount(window, aligned) >= kMinDefaultPoints) return aligned;
    }
    return nice;
  }
  if (requested < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", absl::FormatDuration(requested), " must be positive"));
  }
  if (requested < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", absl::FormatDuration(requested),
                     " is below the minimum 1s"));
  }
  const int64_t points = PointCount(window, requested);
  if (points > kMaxPointsPerSeries) {
    absl::Duration smallest =
        absl::Ceil(window / kMaxPointsPerSeries, absl::Seconds(1));
    if (PointCount(window, smallest) > kMaxPointsPerSeries) {
      smallest += absl::Seconds(1);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", absl::FormatDuration(requested), " gives ", points,
        " points over the ", absl::FormatDuration(window), " window; at most ",
        kMaxPointsPerSeries, " per series (use a step of at least ",
        absl::FormatDuration(smallest), ")"));
  }
  return requested;
}

}  // namespace weir::query
