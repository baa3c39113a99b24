// What every connection of the HTTP front shares (the server's options,
// the gateway, the metrics), and the small helpers its sessions use to
// read requests and write responses. Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_SERVER_CONTEXT_H_
#define WEIR_QUERYD_HTTP_SERVER_CONTEXT_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/websocket.hpp"
#include "common/peer_counter.h"
#include "queryd/http/gateway.h"
#include "queryd/http/http_server.h"
#include "queryd/http/http_stream.h"
#include "queryd/http/tls_context.h"
#include "queryd/metrics/queryd_metrics.h"

namespace weir::queryd::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Request = bhttp::request<bhttp::string_body>;

inline constexpr char kMetricsPath[] = "/metrics";
inline constexpr char kUnmatched[] = "unmatched";

// What every connection shares; owned by the server.
struct ServerContext {
  HttpServerOptions options;
  Gateway* gateway = nullptr;
  metrics::QuerydMetrics* metrics = nullptr;  // may be null
  TlsContexts* tls = nullptr;                 // null: plaintext
  // Streams between their call's start and their end, so Stop() can let
  // them say goodbye.
  mutable std::atomic<int> open_streams{0};
  // Open connections and streams, by peer address.
  std::unique_ptr<PeerCounter> connections;
  std::unique_ptr<PeerCounter> streams;
};

// A connection's place in ServerContext::connections, held for as long as
// the connection is open (passed on with it to a WebSocket session).
using ConnectionSlot = std::shared_ptr<PeerCounter::Slot>;

// The peer's address as a PeerCounter key: IPv4 also when it reached an
// IPv6 socket (::ffff:192.0.2.2 is 192.0.2.2).
std::string PeerKey(const tcp::endpoint& peer);

inline std::chrono::nanoseconds Chrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// The label a request is counted under: its route's template, /metrics,
// or "unmatched" (never the raw path, which would make labels unbounded).
std::string RouteLabel(const ServerContext& ctx, absl::string_view method,
                       absl::string_view target);

// gRPC metadata the call carries: the client's Authorization header (which
// the service checks, auth::AuthorizeCall), grpc-gateway's Grpc-Metadata-*
// headers, and the peer address.
Metadata MetadataOf(const Request& request, const tcp::endpoint& peer);

// `head_only` answers a HEAD request: the head a GET would get (its
// Content-Length included), without the body.
std::shared_ptr<bhttp::response<bhttp::string_body>> MakeResponse(
    const HttpReply& reply, unsigned version, bool keep_alive, bool head_only);

// The value of `field` in `request`, "" when absent.
std::string HeaderValue(const Request& request, bhttp::field field);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_SERVER_CONTEXT_H_
