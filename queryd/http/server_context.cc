#include "queryd/http/server_context.h"

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace weir::queryd::http {

std::string PeerKey(const tcp::endpoint& peer) {
  const net::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6())
        .to_string();
  }
  return address.to_string();
}

std::string RouteLabel(const ServerContext& ctx, absl::string_view method,
                       absl::string_view target) {
  const absl::string_view path = target.substr(0, target.find('?'));
  if (path == kMetricsPath) return std::string(kMetricsPath);
  std::string label = ctx.gateway->routes().Find(method, path).path_template;
  return label.empty() ? std::string(kUnmatched) : label;
}

Metadata MetadataOf(const Request& request, const tcp::endpoint& peer) {
  Metadata metadata;
  for (const auto& field : request) {
    std::string name = absl::AsciiStrToLower(absl::string_view(
        field.name_string().data(), field.name_string().size()));
    std::string value(field.value());
    if (name == "authorization") {
      metadata.emplace_back(std::move(name), std::move(value));
    } else if (absl::StartsWith(name, "grpc-metadata-")) {
      metadata.emplace_back(name.substr(strlen("grpc-metadata-")),
                            std::move(value));
    }
  }
  metadata.emplace_back("x-forwarded-for", peer.address().to_string());
  return metadata;
}

std::shared_ptr<bhttp::response<bhttp::string_body>> MakeResponse(
    const HttpReply& reply, unsigned version, bool keep_alive, bool head_only) {
  auto response = std::make_shared<bhttp::response<bhttp::string_body>>();
  response->version(version);
  response->result(reply.status);
  response->set(bhttp::field::server, "weir-queryd");
  if (!reply.content_type.empty()) {
    response->set(bhttp::field::content_type, reply.content_type);
  }
  for (const auto& [name, value] : reply.headers) response->set(name, value);
  response->body() = reply.body;
  response->keep_alive(keep_alive);
  response->prepare_payload();
  if (head_only) response->body().clear();
  return response;
}

std::string HeaderValue(const Request& request, bhttp::field field) {
  const auto it = request.find(field);
  if (it == request.end()) return "";
  return {it->value().begin(), it->value().end()};
}

}  // namespace weir::queryd::http
