// Request fields from query parameters and path variables, with
// grpc-gateway's rules: a dotted name addresses a (nested) field
// ("filter.src_addr"), each segment in its proto name or its JSON
// (lowerCamel) name; a repeated field takes one value per repetition
// ("filter.port=80&filter.port=443"); enums by full name, number or short
// form (common/enum_names.h: "group_by=src"); Durations as in proto3 JSON
// ("1.5s") or with units ("1m30s", "2h", "7d", "500ms"); the other
// well-known types by their JSON string form (Timestamp as RFC 3339).
//
// Values are converted by protobuf's own JSON parser (one small JSON object
// per value), so they follow the proto3 JSON mapping exactly; the extra enum
// and Duration forms are first turned into their JSON form.
#ifndef WEIR_QUERYD_HTTP_FIELD_VALUES_H_
#define WEIR_QUERYD_HTTP_FIELD_VALUES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace weir::queryd::http {

// One name=value pair, decoded.
struct FieldValue {
  std::string name;
  std::string value;
};

// Splits a query string ("a=1&b=x%20y") into decoded pairs: '+' is a space,
// percent escapes are decoded, a name without '=' has an empty value, empty
// pairs are skipped. INVALID_ARGUMENT for a malformed escape.
absl::StatusOr<std::vector<FieldValue>> ParseQueryString(
    absl::string_view query);

// The fields along `path` ("filter.srcAddr"), starting at `type`. Every
// segment but the last must be a singular message field that JSON shows as
// an object. INVALID_ARGUMENT naming the segment otherwise.
absl::StatusOr<std::vector<const google::protobuf::FieldDescriptor*>>
ResolveFieldPath(const google::protobuf::Descriptor& type,
                 absl::string_view path);

// The proto-name form of a resolved path ("filter.src_addr").
std::string CanonicalPath(
    absl::Span<const google::protobuf::FieldDescriptor* const> fields);

// Sets fields of `message` from `values`; repeated fields get the values in
// order. `source` names where the values come from in errors ("query
// parameter", "path variable"). `reserved` lists canonical paths another
// part of the request already sets (path variables, the body field; "*" for
// a body that is the whole message): a value for one of them, or inside
// one, is an error. Every error is INVALID_ARGUMENT and names the value as
// the client wrote it, e.g.
//   query parameter "filter.direction": invalid value "UP" (want one of ...)
//   query parameter "bogus": no field "bogus" in weir.v1.ListFlowsRequest
absl::Status MergeFieldValues(absl::Span<const FieldValue> values,
                              absl::string_view source,
                              absl::Span<const std::string> reserved,
                              google::protobuf::Message* message);

// A Duration's text: a sequence of <number><unit> ("1m30s", "1.5h", "90s",
// "500ms"; units d = 24 h, h, m, s, ms, us, ns; a fraction to the
// nanosecond), as Go's time.ParseDuration reads it plus days. INVALID_ARGUMENT
// (without a field name) for a malformed, negative or longer than
// google.protobuf.Duration's range (315576000000 s) value.
absl::StatusOr<absl::Duration> ParseDurationText(absl::string_view text);

// A non-negative duration in the proto3 JSON form: "90s", "1.500000000s".
std::string DurationJsonText(absl::Duration duration);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_FIELD_VALUES_H_
