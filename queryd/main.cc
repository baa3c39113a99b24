// weir-queryd: turns flags into QuerydOptions and runs the query tier.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "boost/version.hpp"
#include "common/command_line.h"
#include "common/version.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"
#include "queryd/auth/token_table.h"
#include "queryd/malloc_tuning.h"
#include "queryd/queryd.h"
#include "rocksdb/version.h"

ABSL_FLAG(std::string, data_dir, "/var/lib/weir",
          "Folder of the embedded RocksDB store; created if missing.");
ABSL_FLAG(std::string, grpc_address, "127.0.0.1:7701",
          "Where the gRPC IngestService and QueryService listen.");
ABSL_FLAG(std::string, http_address, "127.0.0.1:7700",
          "Where REST, NDJSON/WebSocket streams and /metrics listen.");
ABSL_FLAG(uint64_t, http_max_body_bytes, 1 << 20,
          "Largest HTTP request body accepted; larger ones get 413.");
ABSL_FLAG(absl::Duration, http_read_timeout, absl::Seconds(30),
          "Time an HTTP client has to send a request (head and body), and "
          "how long an idle keep-alive connection is kept.");
ABSL_FLAG(std::string, http_cors_origins, "",
          "Browser pages allowed to call the HTTP API from other origins "
          "(CORS): a comma-separated list of exact origins "
          "(https://grafana.example.org,http://127.0.0.1:3000) or * for "
          "any. Empty: no CORS headers, so browsers allow same-origin "
          "pages only.");
ABSL_FLAG(uint64_t, http_max_header_bytes, 16 << 10,
          "Largest HTTP request head (request line and headers) accepted; "
          "larger ones get 431.");
ABSL_FLAG(std::string, allowed_ips, "",
          "Peers allowed to connect to the gRPC and HTTP listeners: "
          "comma-separated address blocks (192.0.2.0/24,2001:db8::/32; a "
          "bare address is one host). Others are closed before a byte is "
          "read. Empty: everyone who can reach the listen address.");
ABSL_FLAG(std::string, http_allowed_ips, "",
          "Overrides --allowed-ips for the HTTP listener when set.");
ABSL_FLAG(std::string, grpc_allowed_ips, "",
          "Overrides --allowed-ips for the gRPC listener when set.");
ABSL_FLAG(int32_t, http_max_connections, 512,
          "Open HTTP connections at most; more are closed unread. 0: no "
          "cap (mind the process's descriptor limit).");
ABSL_FLAG(int32_t, http_max_connections_per_peer, 64,
          "Open HTTP connections from one address at most; 0: no cap.");
ABSL_FLAG(int32_t, max_streams_per_peer, 16,
          "Open NDJSON and WebSocket streams from one address at most; one "
          "more gets 429. 0: no cap.");
ABSL_FLAG(uint64_t, websocket_max_message_bytes, 64 << 10,
          "Largest message a WebSocket client may send; a larger one closes "
          "the stream with 1009.");
ABSL_FLAG(absl::Duration, retention_raw, absl::Hours(24),
          "How long raw flow records are kept.");
ABSL_FLAG(absl::Duration, retention_1m, absl::Hours(24 * 7),
          "How long the 1-minute rollups are kept.");
ABSL_FLAG(absl::Duration, retention_1h, absl::Hours(24 * 90),
          "How long the 1-hour rollups are kept.");
ABSL_FLAG(int64_t, rollup_buffer_keys, 1 << 16,
          "Rollup totals are summed in memory across batches and written "
          "out at this many distinct keys (at peak, while being written, "
          "about 1 KiB of memory each), after "
          "--rollup-flush-interval, before rollup reads and at shutdown; a "
          "crash loses none of them (they are redone from raw flows at "
          "start). 0 writes them with every batch.");
ABSL_FLAG(absl::Duration, rollup_flush_interval, absl::Seconds(10),
          "Longest time rollup totals stay only in memory.");
ABSL_FLAG(absl::Duration, connection_timeout, absl::Seconds(60),
          "A flow with no packet for this long is no longer an active "
          "connection.");
ABSL_FLAG(uint32_t, metrics_top_k, 20,
          "Per-IP Prometheus series are kept for this many addresses; the "
          "rest are summed into one 'other' series.");
ABSL_FLAG(uint32_t, max_page_size, 1000,
          "Largest page a ListFlows request may ask for; a larger "
          "page_size (or limit) is refused naming the field, not clamped.");
ABSL_FLAG(absl::Duration, max_query_window, absl::Hours(24 * 366),
          "Longest time range (range.start to range.end) a query may ask "
          "for; a longer one is refused naming the range. The default "
          "covers every default retention.");
ABSL_FLAG(std::string, token_file, "",
          "Bearer tokens with scopes (read, ingest, metrics, admin), one "
          "per line as <name> <scope>[,<scope>...] sha256:<hex> (see "
          "--hash-token); re-read when it changes and on SIGHUP. Empty: no "
          "tokens, every call is served (keep the listeners on loopback "
          "then; docs/security.md).");
ABSL_FLAG(bool, hash_token, false,
          "Read a token from standard input, print the sha256:<hex> field "
          "of its --token-file line, and exit.");
ABSL_FLAG(bool, allow_root, false,
          "Run even as root. queryd needs no privilege; running it as root "
          "only widens what a bug could reach.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (leaf first) for TLS on the gRPC and HTTP "
          "listeners, with --tls-key. Re-read when the file changes; a "
          "replacement that does not check out is refused with one line "
          "and the previous one stays in use.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls-cert (unencrypted).");
ABSL_FLAG(std::string, client_ca, "",
          "PEM CA bundle for mutual TLS on ingest: IngestService then needs "
          "a client certificate issued by it whose subject alternative name "
          "(or, without any SAN, common name) equals the node name of every "
          "batch. Needs --tls-cert. Re-read when the file changes.");
ABSL_FLAG(std::string, shared_client_cert_name, "",
          "With --client-ca: a client certificate holding this name (a "
          "subject alternative name, or the common name of one without) may "
          "write as any node, for collectors that share one certificate (a "
          "DaemonSet's Secret). It proves a collector of the fleet, not which "
          "node; leave it empty to bind each node to its own certificate.");
ABSL_FLAG(bool, plaintext, false,
          "Serve gRPC and HTTP without TLS on an address other than "
          "loopback (loopback needs no flag). Without TLS anyone who can "
          "reach the ports reads every flow and writes as any node.");

namespace {

std::string VersionText() {
  return absl::StrCat(
      weir::kWeirVersion, " (gRPC ", grpc::Version(), ", RocksDB ",
      rocksdb::GetRocksVersionAsString(), ", protobuf ",
      google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION),
      ", Boost ", BOOST_VERSION / 100000, ".", BOOST_VERSION / 100 % 1000, ")");
}

}  // namespace

int main(int argc, char** argv) {
  weir::queryd::TuneMalloc();
  const weir::CommandLineSpec spec{
      .program = "weir-queryd",
      .usage =
          "weir-queryd receives flow batches from weir-collectors, stores "
          "them in an embedded RocksDB and answers queries over gRPC, REST, "
          "NDJSON/WebSocket streams and Prometheus /metrics.\n\n"
          "Usage: weir-queryd [flags]\nRuns as an unprivileged user.",
      .version = VersionText(),
      .flag_source_prefixes = {"queryd/"},
  };
  const std::vector<std::string> rest =
      weir::ParseCommandLineOrExit(argc, argv, spec);
  if (!rest.empty()) {
    weir::UsageError(spec, absl::StrCat("unexpected argument '", rest[0], "'"));
  }

  if (absl::GetFlag(FLAGS_hash_token)) {
    std::string input;
    char chunk[4096];
    size_t n;
    while (input.size() <= 8192 &&
           (n = std::fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
      input.append(chunk, n);
    }
    absl::StatusOr<std::string> hash =
        weir::queryd::auth::HashTokenInput(input);
    if (!hash.ok())
      weir::UsageError(spec,
                       absl::StrCat("--hash-token: ", hash.status().message()));
    std::printf("%s\n", hash->c_str());
    return 0;
  }

  weir::queryd::QuerydOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.grpc_address = absl::GetFlag(FLAGS_grpc_address);
  options.http_address = absl::GetFlag(FLAGS_http_address);
  options.http_max_body_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_http_max_body_bytes));
  options.http_read_timeout = absl::GetFlag(FLAGS_http_read_timeout);
  options.http_cors_origins = absl::GetFlag(FLAGS_http_cors_origins);
  options.http_max_header_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_http_max_header_bytes));
  options.allowed_ips = absl::GetFlag(FLAGS_allowed_ips);
  options.http_allowed_ips = absl::GetFlag(FLAGS_http_allowed_ips);
  options.grpc_allowed_ips = absl::GetFlag(FLAGS_grpc_allowed_ips);
  options.http_max_connections = absl::GetFlag(FLAGS_http_max_connections);
  options.http_max_connections_per_peer =
      absl::GetFlag(FLAGS_http_max_connections_per_peer);
  options.max_streams_per_peer = absl::GetFlag(FLAGS_max_streams_per_peer);
  options.websocket_max_message_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_websocket_max_message_bytes));
  options.retention_raw = absl::GetFlag(FLAGS_retention_raw);
  options.retention_1m = absl::GetFlag(FLAGS_retention_1m);
  options.retention_1h = absl::GetFlag(FLAGS_retention_1h);
  options.rollup_buffer_keys = absl::GetFlag(FLAGS_rollup_buffer_keys);
  options.rollup_flush_interval = absl::GetFlag(FLAGS_rollup_flush_interval);
  options.connection_timeout = absl::GetFlag(FLAGS_connection_timeout);
  options.metrics_top_k = absl::GetFlag(FLAGS_metrics_top_k);
  options.max_page_size = absl::GetFlag(FLAGS_max_page_size);
  options.max_query_window = absl::GetFlag(FLAGS_max_query_window);
  options.allow_root = absl::GetFlag(FLAGS_allow_root);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.client_ca = absl::GetFlag(FLAGS_client_ca);
  options.plaintext = absl::GetFlag(FLAGS_plaintext);
  options.shared_client_cert_name =
      absl::GetFlag(FLAGS_shared_client_cert_name);
  if (absl::Status valid = weir::queryd::ValidateOptions(options);
      !valid.ok()) {
    weir::UsageError(spec, valid.message());
  }
  // Unreadable or unusable TLS files are a start-up error like a bad flag.
  if (absl::Status tls = weir::queryd::CheckTlsFiles(options); !tls.ok()) {
    std::fprintf(stderr, "weir-queryd: %.*s\n",
                 static_cast<int>(tls.message().size()), tls.message().data());
    return 2;
  }

  const absl::Status status = weir::queryd::Run(options);
  if (!status.ok()) {
    std::fprintf(stderr, "weir-queryd: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
