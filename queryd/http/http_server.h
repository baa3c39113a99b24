// weir-queryd's HTTP/1.1 front (docs/design.md §6, §7), on Boost.Beast: REST
// transcoded by the Gateway, server streams as NDJSON or WebSocket on the
// same paths, and Prometheus /metrics.
//
// Every connection runs on its own strand of a small asio thread pool, all
// I/O is asynchronous, and gRPC completions are posted back to the
// connection's strand, so no thread ever waits for a client or a call:
// - reading one request (head and body) must finish within read_timeout,
//   which is also how long an idle keep-alive connection is kept; a slow or
//   half-open client is disconnected without an answer;
// - a body over max_body_bytes is answered 413 and the connection closed;
// - writing one response, or one stream message, must finish within
//   write_timeout.
// - a peer outside allowed_ips, or past max_connections (in total or for
//   its address), is closed as soon as it is accepted, before any byte of
//   it is read;
// - a request head that could be read two ways is refused with 400 and
//   the connection closed (RFC 9112 §6.1, §6.3, §3.2): a Transfer-Encoding
//   other than exactly "chunked", Transfer-Encoding with Content-Length, an
//   HTTP/1.1 request without Host, two Host headers; so is a WebSocket
//   upgrade without a valid Sec-WebSocket-Key (base64 of 16 bytes) or with
//   a Sec-WebSocket-Version other than 13 (RFC 6455 §4.2.1);
// - a peer address holds at most max_streams_per_peer streams; one more
//   gets 429.
//
// Streams (routes of server-streaming methods):
// - NDJSON (any request without an Upgrade): Transfer-Encoding: chunked,
//   Content-Type: application/x-ndjson, one line per message:
//   {"result": <message>}, and a failure after the stream began as
//   {"error": <google.rpc.Status>}. The connection closes after the stream.
// - WebSocket (an Upgrade request on the same path): one text frame per
//   message holding the bare message JSON (as the seeds' /api/stream sends
//   stats); a failure sends one {"error": <google.rpc.Status>} frame, then
//   closes with code 1011 (1001 when queryd is stopping). When the server
//   ends the stream normally the close code is 1000.
// Either way the response head (or the 101) waits for the first message or
// the end of the call, at most stream_head_delay, so a request the method
// rejects at once (INVALID_ARGUMENT, ...) gets a plain HTTP error with its
// status, like any unary call. A client that goes away cancels its call.
#ifndef WEIR_QUERYD_HTTP_HTTP_SERVER_H_
#define WEIR_QUERYD_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/source_allowlist.h"
#include "common/tls_files.h"
#include "queryd/auth/authorizer.h"
#include "queryd/http/cors.h"
#include "queryd/http/gateway.h"
#include "queryd/metrics/queryd_metrics.h"

namespace weir::queryd::http {

struct HttpServerOptions {
  // host:port; port 0 picks a free one (see HttpServer::port()).
  std::string address = "127.0.0.1:0";
  int threads = 2;
  size_t max_body_bytes = size_t{1} << 20;
  size_t max_header_bytes = size_t{16} << 10;
  absl::Duration read_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  absl::Duration stream_head_delay = absl::Milliseconds(250);
  // A WebSocket client that sends nothing (not even a pong to our pings)
  // for this long is disconnected.
  absl::Duration websocket_idle_timeout = absl::Seconds(60);
  // Cross-origin access for browsers; off by default.
  CorsPolicy cors;
  // Connections are accepted only while the process has fewer descriptors
  // open than this (common/descriptors.h); the others wait in the listen
  // queue. So idle clients cannot take the descriptors the store needs.
  // 0: no bound.
  int max_open_descriptors = 0;
  // Checks the bearer token of GET /metrics (scope metrics); null: no
  // --token-file, /metrics is open. Other routes are checked by the
  // services they call, which get the Authorization header as metadata.
  // Must outlive the server.
  auth::Authorizer* authorizer = nullptr;
  // TLS files (null: plaintext): every connection, WebSocket included, is
  // TLS; new connections use the files as they are when accepted.
  std::shared_ptr<TlsFileWatcher> tls_files;
  // Peers allowed to connect; empty: everyone.
  SourceAllowlist allowed_ips;
  // Open connections, in total and from one address; 0: no cap.
  int max_connections = 512;
  int max_connections_per_peer = 64;
  // Open NDJSON and WebSocket streams from one address; 0: no cap.
  int max_streams_per_peer = 16;
  // Largest WebSocket message a client may send.
  size_t websocket_max_message_bytes = size_t{64} << 10;
};

class HttpServer {
 public:
  // Listens and starts serving. `gateway` and `metrics` (which may be
  // null: no /metrics) must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options, Gateway* gateway,
      metrics::QuerydMetrics* metrics);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

  // Stops accepting, cancels every call in flight (Gateway::Shutdown),
  // closes every connection and joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  HttpServer() = default;

  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_HTTP_SERVER_H_
