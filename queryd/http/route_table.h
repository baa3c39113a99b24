// REST routes read from the google.api.http annotations of gRPC services
// (docs/design.md §6): the proto is the only route table. Each method's
// HttpRule and its additional_bindings become routes at start-up, so a newly
// annotated RPC is served without any HTTP code for it.
//
// The http.proto Weir builds with (Debian's, from the Bazel sources) has no
// HttpRule.response_body: responses are always the whole message.
#ifndef WEIR_QUERYD_HTTP_ROUTE_TABLE_H_
#define WEIR_QUERYD_HTTP_ROUTE_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "queryd/http/path_template.h"

namespace weir::queryd::http {

struct Route {
  const google::protobuf::MethodDescriptor* method = nullptr;
  // The gRPC method path, "/weir.v1.QueryService/ListFlows".
  std::string grpc_method;
  // "GET", "POST", ...; a custom pattern's kind as written ("*": any).
  std::string http_method;
  PathTemplate path;
  // The rule's body: "" (none), "*" (the whole request) or the canonical
  // path of the field the body sets.
  std::string body;
  // Whether the method streams its responses (NDJSON or WebSocket).
  bool server_streaming = false;
};

class RouteTable {
 public:
  // Routes of every method of `services` that has a google.api.http option,
  // in declaration order (a rule, then its additional_bindings).
  // INVALID_ARGUMENT naming the method for: a template that does not parse,
  // a variable or body that names no field (or a body that is not a
  // singular message field), a
  // client-streaming method (REST has no request stream), and two bindings
  // with the same HTTP method and template.
  static absl::StatusOr<RouteTable> Build(
      absl::Span<const google::protobuf::ServiceDescriptor* const> services);

  struct Match {
    // The route, when one matches the path and the method.
    const Route* route = nullptr;
    std::vector<PathTemplate::Binding> bindings;
    // The path matched but not the method: the methods that would (405).
    std::vector<std::string> allowed_methods;
    // The template the path matched (also for a 405), for metrics labels.
    std::string path_template;
  };
  // The first route, in declaration order, that matches. `path` is the
  // request target before '?', still percent-encoded.
  Match Find(absl::string_view http_method, absl::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_ROUTE_TABLE_H_
