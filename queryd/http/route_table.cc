#include "queryd/http/route_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"
#include "queryd/http/field_values.h"

namespace weir::queryd::http {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;

// The method and path of one HttpRule (without its additional_bindings).
absl::StatusOr<std::pair<std::string, std::string>> Pattern(
    const google::api::HttpRule& rule) {
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      return std::make_pair(std::string("GET"), rule.get());
    case google::api::HttpRule::kPut:
      return std::make_pair(std::string("PUT"), rule.put());
    case google::api::HttpRule::kPost:
      return std::make_pair(std::string("POST"), rule.post());
    case google::api::HttpRule::kDelete:
      return std::make_pair(std::string("DELETE"), rule.delete_());
    case google::api::HttpRule::kPatch:
      return std::make_pair(std::string("PATCH"), rule.patch());
    case google::api::HttpRule::kCustom:
      return std::make_pair(rule.custom().kind(), rule.custom().path());
    default:
      return absl::InvalidArgumentError("rule has no pattern");
  }
}

absl::StatusOr<Route> MakeRoute(const MethodDescriptor& method,
                                const google::api::HttpRule& rule) {
  absl::StatusOr<std::pair<std::string, std::string>> pattern = Pattern(rule);
  if (!pattern.ok()) return pattern.status();
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(pattern->second);
  if (!path.ok()) return path.status();

  Route route{
      &method,
      absl::StrCat("/", method.service()->full_name(), "/", method.name()),
      pattern->first,
      *std::move(path),
      "",
      method.server_streaming()};
  for (const std::string& variable : route.path.variables()) {
    absl::StatusOr<std::vector<const FieldDescriptor*>> fields =
        ResolveFieldPath(*method.input_type(), variable);
    if (!fields.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path variable \"", variable, "\": ", fields.status().message()));
    }
    if (fields->back()->is_repeated() ||
        fields->back()->type() == FieldDescriptor::TYPE_MESSAGE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "path variable \"", variable, "\" must name a singular scalar"));
    }
  }
  if (!rule.body().empty() && rule.body() != "*") {
    absl::StatusOr<std::vector<const FieldDescriptor*>> fields =
        ResolveFieldPath(*method.input_type(), rule.body());
    if (!fields.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "body \"", rule.body(), "\": ", fields.status().message()));
    }
    if (fields->back()->is_repeated() ||
        fields->back()->type() != FieldDescriptor::TYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          absl::StrCat("body \"", rule.body(),
                       "\" must be \"*\" or name a singular message field"));
    }
    route.body = CanonicalPath(*fields);
  } else {
    route.body = rule.body();
  }
  return route;
}

}  // namespace

absl::StatusOr<RouteTable> RouteTable::Build(
    absl::Span<const google::protobuf::ServiceDescriptor* const> services) {
  RouteTable table;
  for (const google::protobuf::ServiceDescriptor* service : services) {
    for (int i = 0; i < service->method_count(); ++i) {
      const MethodDescriptor& method = *service->method(i);
      if (!method.options().HasExtension(google::api::http)) continue;
      auto error = [&method](absl::string_view what) {
        return absl::InvalidArgumentError(absl::StrCat(
            "google.api.http of ", method.full_name(), ": ", what));
      };
      if (method.client_streaming()) {
        return error("client-streaming methods cannot be served over REST");
      }
      const google::api::HttpRule& rule =
          method.options().GetExtension(google::api::http);
      std::vector<const google::api::HttpRule*> rules = {&rule};
      for (const google::api::HttpRule& binding : rule.additional_bindings()) {
        if (binding.additional_bindings_size() > 0) {
          return error("additional_bindings must not nest");
        }
        rules.push_back(&binding);
      }
      for (const google::api::HttpRule* r : rules) {
        absl::StatusOr<Route> route = MakeRoute(method, *r);
        if (!route.ok()) return error(route.status().message());
        for (const Route& other : table.routes_) {
          if (other.http_method == route->http_method &&
              other.path.text() == route->path.text()) {
            return error(absl::StrCat(
                route->http_method, " ", route->path.text(),
                " is already bound to ", other.method->full_name()));
          }
        }
        table.routes_.push_back(*std::move(route));
      }
    }
  }
  return table;
}

RouteTable::Match RouteTable::Find(absl::string_view http_method,
                                   absl::string_view path) const {
  Match match;
  for (const Route& route : routes_) {
    std::optional<std::vector<PathTemplate::Binding>> bindings =
        route.path.Match(path);
    if (!bindings.has_value()) continue;
    if (route.http_method == http_method || route.http_method == "*") {
      match.route = &route;
      match.bindings = *std::move(bindings);
      match.path_template = route.path.text();
      match.allowed_methods.clear();
      return match;
    }
    if (match.path_template.empty()) match.path_template = route.path.text();
    if (std::find(match.allowed_methods.begin(), match.allowed_methods.end(),
                  route.http_method) == match.allowed_methods.end()) {
      match.allowed_methods.push_back(route.http_method);
    }
  }
  return match;
}

}  // namespace weir::queryd::http
