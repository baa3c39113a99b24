#include "queryd/http/transcoder.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "queryd/http/field_values.h"

namespace weir::queryd::http {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The parser's messages start with the JSON path in parentheses,
// "(filter.port[0]): ...", which is what we want to show as is.
std::string JsonError(absl::string_view message) {
  return absl::StrCat("request body: ", message);
}

// The sub-message at a resolved path, created when missing.
Message* MutableAt(Message* message,
                   absl::Span<const FieldDescriptor* const> fields) {
  for (const FieldDescriptor* field : fields) {
    message = message->GetReflection()->MutableMessage(message, field);
  }
  return message;
}

}  // namespace

absl::Status BuildRequest(const Route& route,
                          absl::Span<const PathTemplate::Binding> bindings,
                          absl::string_view query, absl::string_view body,
                          Message* request) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;

  std::vector<std::string> reserved;
  if (route.body == "*") {
    if (!body.empty()) {
      auto status = google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(body.data(), body.size()), request,
          options);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            JsonError(status.message().ToString()));
      }
    }
    reserved.push_back("*");
  } else if (!route.body.empty()) {
    absl::StatusOr<std::vector<const FieldDescriptor*>> fields =
        ResolveFieldPath(*request->GetDescriptor(), route.body);
    if (!fields.ok()) return fields.status();  // checked by RouteTable
    if (fields->back()->type() != FieldDescriptor::TYPE_MESSAGE ||
        fields->back()->is_repeated()) {
      return absl::UnimplementedError(absl::StrCat(
          "body \"", route.body, "\" is not a singular message field"));
    }
    if (!body.empty()) {
      auto status = google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(body.data(), body.size()),
          MutableAt(request, *fields), options);
      if (!status.ok()) {
        return absl::InvalidArgumentError(
            JsonError(status.message().ToString()));
      }
    }
    reserved.push_back(route.body);
  }

  std::vector<FieldValue> variables;
  for (const PathTemplate::Binding& binding : bindings) {
    variables.push_back({binding.field_path, binding.value});
    absl::StatusOr<std::vector<const FieldDescriptor*>> fields =
        ResolveFieldPath(*request->GetDescriptor(), binding.field_path);
    if (fields.ok()) reserved.push_back(CanonicalPath(*fields));
  }
  if (absl::Status status =
          MergeFieldValues(variables, "path variable", {}, request);
      !status.ok()) {
    return status;
  }

  WEIR_ASSIGN_OR_RETURN(std::vector<FieldValue> params,
                        ParseQueryString(query));
  return MergeFieldValues(params, "query parameter", reserved, request);
}

absl::StatusOr<std::string> MessageJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  // Zero values are printed: a count of 0 or an empty list is an answer,
  // and clients should not have to know proto3's defaults.
  options.always_print_primitive_fields = true;
  std::string json;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print ", message.GetDescriptor()->full_name(),
                     " as JSON: ", status.message().ToString()));
  }
  return json;
}

absl::StatusOr<std::string> ResponseJson(const Route& /*route*/,
                                         const Message& response) {
  return MessageJson(response);
}

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnknown:
      return 500;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kFailedPrecondition:
      return 400;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kInternal:
      return 500;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDataLoss:
    default:
      return 500;
  }
}

std::string StatusJson(absl::StatusCode code, absl::string_view message,
                       absl::string_view details) {
  google::rpc::Status status;
  if (!details.empty() &&
      status.ParseFromArray(details.data(), static_cast<int>(details.size()))) {
    // Keep only the details; code and message are the call's own.
    google::rpc::Status copy;
    *copy.mutable_details() = status.details();
    status = std::move(copy);
  } else {
    status.Clear();
  }
  status.set_code(static_cast<int>(code));
  const std::string text(message);
  status.set_message(text);
  absl::StatusOr<std::string> json = MessageJson(status);
  if (!json.ok()) {  // a detail of a type this binary does not know
    status.clear_details();
    json = MessageJson(status);
  }
  return json.ok() ? *std::move(json)
                   : absl::StrCat("{\"code\":", static_cast<int>(code),
                                  ",\"message\":", JsonQuote(message),
                                  ",\"details\":[]}");
}

}  // namespace weir::queryd::http
