#include "queryd/queryd.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/source_allowlist.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "queryd/auth/authorizer.h"
#include "queryd/http/cors.h"
#include "queryd/server.h"

namespace weir::queryd {
namespace {

absl::Status CheckRetention(absl::string_view flag, absl::Duration value,
                            absl::Duration minimum) {
  if (value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", absl::FormatDuration(value),
                     " is shorter than ", absl::FormatDuration(minimum)));
  }
  return absl::OkStatus();
}

// Up to about 1 KiB each while being written: ~4 GiB at most.
constexpr int64_t kMaxRollupBufferKeys = int64_t{1} << 22;

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
  return ip.ok() && Classify(*ip) == AddressClass::kLoopback;
}

absl::Status CheckTlsFiles(const QuerydOptions& options) {
  if (options.tls_cert.empty()) return absl::OkStatus();
  return LoadTlsMaterial(options.tls_paths()).status();
}

absl::Status ValidateOptions(const QuerydOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("--data-dir: must not be empty");
  }
  if (options.grpc_address.empty()) {
    return absl::InvalidArgumentError("--grpc-address: must be host:port");
  }
  if (options.http_address.empty()) {
    return absl::InvalidArgumentError("--http-address: must be host:port");
  }
  for (const auto& [flag, value, minimum] :
       {std::tuple{"retention-raw", options.retention_raw, absl::Minutes(1)},
        std::tuple{"retention-1m", options.retention_1m, absl::Minutes(1)},
        std::tuple{"retention-1h", options.retention_1h, absl::Hours(1)}}) {
    WEIR_RETURN_IF_ERROR(CheckRetention(flag, value, minimum));
  }
  if (options.rollup_buffer_keys < 0 ||
      options.rollup_buffer_keys > kMaxRollupBufferKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rollup-buffer-keys: ", options.rollup_buffer_keys,
                     " is outside 0..", kMaxRollupBufferKeys));
  }
  if (options.rollup_flush_interval <= absl::ZeroDuration() ||
      options.rollup_flush_interval > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rollup-flush-interval: ",
                     absl::FormatDuration(options.rollup_flush_interval),
                     " is outside (0s, 1h]"));
  }
  if (options.connection_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--connection-timeout: must be positive");
  }
  if (options.http_read_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--http-read-timeout: must be positive");
  }
  if (options.http_max_body_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-max-body-bytes: ", options.http_max_body_bytes,
                     " is below 1024"));
  }
  if (absl::StatusOr<http::CorsPolicy> cors =
          http::CorsPolicy::Parse(options.http_cors_origins);
      !cors.ok()) {
    return cors.status();
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(options.tls_cert.empty()
                                          ? "--tls-key: needs --tls-cert"
                                          : "--tls-cert: needs --tls-key");
  }
  if (!options.client_ca.empty() && options.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "--client-ca: needs --tls-cert and --tls-key (mutual TLS is TLS)");
  }
  if (!options.shared_client_cert_name.empty() && options.client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--shared-client-cert-name: needs --client-ca (it names a client "
        "certificate that CA issued)");
  }
  if (options.plaintext && !options.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "--plaintext: contradicts --tls-cert; give one of them");
  }
  if (options.tls_cert.empty() && !options.plaintext) {
    for (const auto& [flag, address] :
         {std::pair<absl::string_view, const std::string&>{
              "--grpc-address", options.grpc_address},
          {"--http-address", options.http_address}}) {
      if (!IsLoopbackAddress(address)) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag, ": ", address,
            " is not loopback; give --tls-cert and --tls-key to serve TLS "
            "there, or --plaintext to serve it unencrypted"));
      }
    }
  }
  for (const auto& [flag, text] :
       {std::pair<const char*, const std::string&>{"--allowed-ips",
                                                   options.allowed_ips},
        {"--http-allowed-ips", options.http_allowed_ips},
        {"--grpc-allowed-ips", options.grpc_allowed_ips}}) {
    WEIR_RETURN_IF_ERROR(SourceAllowlist::Parse(flag, text).status());
  }
  for (const auto& [flag, value] :
       {std::pair<const char*, int>{"--http-max-connections",
                                    options.http_max_connections},
        {"--http-max-connections-per-peer",
         options.http_max_connections_per_peer},
        {"--max-streams-per-peer", options.max_streams_per_peer}}) {
    if (value < 0 || value > 1000000) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", value, " is outside 0..1000000"));
    }
  }
  if (options.http_max_header_bytes < 1024 ||
      options.http_max_header_bytes > (size_t{1} << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-max-header-bytes: ", options.http_max_header_bytes,
                     " is outside 1024..1048576"));
  }
  if (options.websocket_max_message_bytes < 125 ||
      options.websocket_max_message_bytes > (size_t{64} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--websocket-max-message-bytes: ", options.websocket_max_message_bytes,
        " is outside 125..67108864"));
  }
  if (options.max_query_window < absl::Minutes(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-query-window: ", absl::FormatDuration(options.max_query_window),
        " is shorter than 1m"));
  }
  if (options.max_page_size == 0 || options.max_page_size > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-page-size: ", options.max_page_size, " is outside 1..100000"));
  }
  if (!options.token_file.empty()) {
    auth::AuthorizerOptions auth_options;
    auth_options.token_file = options.token_file;
    WEIR_RETURN_IF_ERROR(auth::Authorizer::Open(auth_options).status());
  }
  return absl::OkStatus();
}

absl::Status CheckNotRoot(const QuerydOptions& options) {
  if (geteuid() == 0 && !options.allow_root) {
    return absl::FailedPreconditionError(
        "refusing to run as root: weir-queryd needs no privilege, and root "
        "only widens what a bug could reach; run it as an unprivileged user "
        "or pass --allow-root");
  }
  return absl::OkStatus();
}

absl::Status Run(const QuerydOptions& options) {
  WEIR_RETURN_IF_ERROR(CheckNotRoot(options));

  // Block the stop signals (and SIGHUP, which re-reads --token-file) before
  // any thread starts, then wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Server> server,
                        Server::BuildAndStart(options));
  // With port 0 the kernel picked one; say which (tests read this line).
  const std::string host =
      options.grpc_address.substr(0, options.grpc_address.rfind(':'));
  const std::string http_host =
      options.http_address.substr(0, options.http_address.rfind(':'));
  if (options.tls_cert.empty()) {
    std::string open;
    for (const std::string& address :
         {options.grpc_address, options.http_address}) {
      if (!IsLoopbackAddress(address)) {
        absl::StrAppend(&open, open.empty() ? "" : " and ", address);
      }
    }
    if (!open.empty()) {
      std::fprintf(stderr,
                   "weir-queryd: WARNING: plaintext on %s (--plaintext): "
                   "anyone who can reach it reads every flow and writes as "
                   "any node\n",
                   open.c_str());
    }
  }
  std::fprintf(stderr,
               "weir-queryd %s: data in %s; gRPC (ingest, queries, "
               "reflection, health) on %s:%d; HTTP (REST, streams, /metrics) "
               "on %s:%d; %s\n",
               kWeirVersion, options.data_dir.c_str(), host.c_str(),
               server->grpc_port(), http_host.c_str(), server->http_port(),
               options.tls_cert.empty() ? "plaintext"
               : options.client_ca.empty()
                   ? "TLS"
                   : "TLS, ingest needs a client certificate");

  if (!options.token_file.empty()) {
    std::fprintf(stderr,
                 "weir-queryd: --token-file %s: calls need a bearer "
                 "token (grpc.health.v1 and /v1/health stay open)\n",
                 options.token_file.c_str());
  }
  int signal = 0;
  while (sigwait(&stop, &signal) == 0 && signal == SIGHUP) {
    server->ReloadTokens();
  }
  std::fprintf(stderr, "weir-queryd: %s, shutting down\n", strsignal(signal));
  server->Shutdown();
  std::fprintf(stderr, "weir-queryd: stopped; data is in %s\n",
               options.data_dir.c_str());
  return absl::OkStatus();
}

}  // namespace weir::queryd
