// weir-queryd's settings, from its flags.
#ifndef WEIR_QUERYD_OPTIONS_H_
#define WEIR_QUERYD_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/tls_files.h"

namespace weir::queryd {

struct QuerydOptions {
  std::string data_dir;
  // host:port of the gRPC listener (ingest and queries).
  std::string grpc_address;
  // host:port of the HTTP listener (REST, streams, /metrics).
  std::string http_address;
  // Largest HTTP request body; larger ones get 413.
  size_t http_max_body_bytes = size_t{1} << 20;
  // Time a client has to send one HTTP request (head and body), and how
  // long an idle keep-alive connection is kept.
  absl::Duration http_read_timeout = absl::Seconds(30);
  // --http-cors-origins: "" (no CORS headers), "*", or comma-separated
  // origins (http::CorsPolicy::Parse).
  std::string http_cors_origins;
  // Largest HTTP request head; larger ones get 431.
  size_t http_max_header_bytes = size_t{16} << 10;
  // Source-CIDR allowlists (SourceAllowlist::Parse): --allowed-ips for
  // every listener, unless --http-allowed-ips / --grpc-allowed-ips is
  // set for that one. Empty: everyone.
  std::string allowed_ips;
  std::string http_allowed_ips;
  std::string grpc_allowed_ips;
  // Open HTTP connections, in total and from one address.
  int http_max_connections = 512;
  int http_max_connections_per_peer = 64;
  // Open streams from one address (HTTP NDJSON and WebSocket).
  int max_streams_per_peer = 16;
  // Largest WebSocket message a client may send.
  size_t websocket_max_message_bytes = size_t{64} << 10;
  absl::Duration retention_raw = absl::Hours(24);
  absl::Duration retention_1m = absl::Hours(24 * 7);
  absl::Duration retention_1h = absl::Hours(24 * 90);
  // The store's rollup buffer (store::StoreOptions).
  int64_t rollup_buffer_keys = int64_t{1} << 16;
  absl::Duration rollup_flush_interval = absl::Seconds(10);
  absl::Duration connection_timeout = absl::Seconds(60);
  uint32_t metrics_top_k = 20;
  uint32_t max_page_size = 1000;
  // Longest time range a query may ask for.
  absl::Duration max_query_window = absl::Hours(24 * 366);
  // Largest gRPC message accepted (a FlowBatch of a busy node).
  int max_message_bytes = 64 << 20;
  bool allow_root = false;
  // --token-file: bearer tokens with scopes (auth/token_table.h); empty:
  // no tokens, every call is served.
  std::string token_file;
  // --tls-cert/--tls-key: PEM files serving TLS on both listeners (re-read
  // when they change). Empty: plaintext.
  std::string tls_cert;
  std::string tls_key;
  // --client-ca: PEM CA bundle; IngestService then needs a client
  // certificate from it naming the batch's node (node_identity.h).
  std::string client_ca;
  // --shared-client-cert-name: a client certificate naming it may write as
  // any node (node_identity.h); empty: each node needs its own.
  std::string shared_client_cert_name;
  // --plaintext: serve without TLS on an address other than loopback.
  bool plaintext = false;

  // The TLS files, with their flags' names.
  TlsFilePaths tls_paths() const {
    TlsFilePaths paths;
    paths.cert = tls_cert;
    paths.key = tls_key;
    paths.ca = client_ca;
    return paths;
  }
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_OPTIONS_H_
