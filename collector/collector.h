// The collector: what weir-collector does once its flags are parsed.
#ifndef WEIR_COLLECTOR_COLLECTOR_H_
#define WEIR_COLLECTOR_COLLECTOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/tls_files.h"

namespace weir::collector {

struct CollectorOptions {
  // Interface names, or {"all"}.
  std::vector<std::string> interfaces;
  // host:port of weir-queryd's IngestService.
  std::string queryd_address;
  absl::Duration flush_interval = absl::Seconds(1);
  // Empty means the hostname.
  std::string node;
  // host:port of the collector's own /metrics.
  std::string metrics_address;
  // Peers allowed to scrape it (SourceAllowlist::Parse); empty: everyone
  // who can reach metrics_address.
  std::string allowed_ips;
  std::string pin_path;
  uint32_t map_size = 65536;
  bool keep_attached = false;
  bool bpf_stats = false;
  // Batches kept until queryd acknowledges them.
  size_t max_unacked_batches = 600;
  // The durable spool (collector/spool.h); empty for none (batches then
  // live in memory only, bounded by max_unacked_batches).
  std::string spool_dir = "/var/lib/weir/spool";
  uint64_t spool_max_bytes = uint64_t{1} << 30;
  absl::Duration spool_max_age = absl::Hours(24);
  // "always", "interval" or "never".
  std::string spool_fsync = "always";
  // File holding the ingest token sent to queryd (token_file.h); empty:
  // none.
  std::string token_file;
  // TLS to queryd: its CA (empty: plaintext), and the client certificate
  // and key for mutual TLS (collector/queryd_credentials.h).
  std::string queryd_ca;
  std::string client_cert;
  std::string client_key;
};

// The TLS files of the options, with their flags' names.
TlsFilePaths QuerydTlsPaths(const CollectorOptions& options);

// Checks values beyond their types; the message names the flag.
absl::Status ValidateOptions(const CollectorOptions& options);

// FAILED_PRECONDITION unless the folder holding `pin_path` is a bpffs.
absl::Status CheckBpffs(const std::string& pin_path);

// Runs the collector until SIGINT or SIGTERM.
absl::Status Run(const CollectorOptions& options);

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_COLLECTOR_H_
