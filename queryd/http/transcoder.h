// JSON <-> proto for the REST gateway, with grpc-gateway's conventions:
// request messages from path variables, query parameters and the body;
// responses in the proto3 JSON mapping; errors as google.rpc.Status JSON
// with grpc-gateway's HTTP status for each gRPC code.
#ifndef WEIR_QUERYD_HTTP_TRANSCODER_H_
#define WEIR_QUERYD_HTTP_TRANSCODER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/message.h"
#include "queryd/http/path_template.h"
#include "queryd/http/route_table.h"

namespace weir::queryd::http {

// Fills `request` (of the route's input type) from the path variables, the
// query string (without '?') and the body, as the route's rule says:
// body "*" is the whole message in JSON (an empty body is {}); body "f" is
// field f in JSON; no body: the body is ignored. Query parameters may set
// any field the path and body do not. INVALID_ARGUMENT naming the parameter,
// variable or "request body" on any error.
absl::Status BuildRequest(const Route& route,
                          absl::Span<const PathTemplate::Binding> bindings,
                          absl::string_view query, absl::string_view body,
                          google::protobuf::Message* request);

// The response in the proto3 JSON mapping:
// lowerCamel names, enums by name, 64-bit integers as strings, Timestamps in
// RFC 3339. Fields with default values are printed too
// (always_print_primitive_fields), so a zero count reads 0 rather than
// vanishing from the object.
absl::StatusOr<std::string> ResponseJson(
    const Route& route, const google::protobuf::Message& response);

// The same printing for any message.
absl::StatusOr<std::string> MessageJson(const google::protobuf::Message& m);

// grpc-gateway's HTTP status for a gRPC code: OK 200, CANCELLED 499,
// UNKNOWN 500, INVALID_ARGUMENT 400, DEADLINE_EXCEEDED 504, NOT_FOUND 404,
// ALREADY_EXISTS 409, PERMISSION_DENIED 403, UNAUTHENTICATED 401,
// RESOURCE_EXHAUSTED 429, FAILED_PRECONDITION 400, ABORTED 409,
// OUT_OF_RANGE 400, UNIMPLEMENTED 501, INTERNAL 500, UNAVAILABLE 503,
// DATA_LOSS 500; anything else 500.
int HttpStatusFromCode(absl::StatusCode code);

// A google.rpc.Status as JSON: {"code":3,"message":"...","details":[...]}.
// `details` is a serialized google.rpc.Status (gRPC's error details) whose
// details are used when they can be printed; otherwise "details" is [].
std::string StatusJson(absl::StatusCode code, absl::string_view message,
                       absl::string_view details = "");

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_TRANSCODER_H_
