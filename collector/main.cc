// weir-collector: turns flags into CollectorOptions and runs the collector.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bpf/libbpf.h"
#include "collector/collector.h"
#include "common/command_line.h"
#include "common/tls_files.h"
#include "common/version.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, interfaces, "all",
          "Comma-separated interfaces to observe on ingress and egress; "
          "\"all\" means every non-loopback interface that is up.");
ABSL_FLAG(std::string, queryd, "127.0.0.1:7701",
          "Address (host:port) of weir-queryd's ingest service.");
ABSL_FLAG(absl::Duration, flush_interval, absl::Seconds(1),
          "How often the kernel flow map is drained and a batch shipped. "
          "Intervals under 100ms are not dependable.");
ABSL_FLAG(std::string, node, "",
          "Node name reported with every flow (default: the hostname).");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9101",
          "Where the collector serves its own Prometheus /metrics "
          "(loopback by default; 0.0.0.0:9101 or [::]:9101 opens it).");
ABSL_FLAG(std::string, allowed_ips, "",
          "Peers allowed to scrape /metrics: comma-separated address blocks "
          "(192.0.2.0/24,2001:db8::/32). Others are closed before a byte is "
          "read. Empty: everyone who can reach --metrics-address.");
ABSL_FLAG(std::string, pin_path, "/sys/fs/bpf/weir",
          "bpffs folder where the program, maps and sequence are pinned so a "
          "restart or upgrade loses no counts.");
ABSL_FLAG(uint32_t, map_size, 65536,
          "Maximum flows per flush interval in the kernel map; flows beyond "
          "it are counted as map_full losses.");
ABSL_FLAG(bool, keep_attached, false,
          "On exit, leave the program attached and its maps pinned so the "
          "next collector adopts them (used for upgrades).");
ABSL_FLAG(bool, bpf_stats, false,
          "Turn on the kernel's BPF run-time statistics and export the "
          "program's run time and run count.");

ABSL_FLAG(uint32_t, max_unacked_batches, 600,
          "Without a spool (--spool-dir=\"\"): batches kept in memory until "
          "queryd acknowledges them (600 = 10 minutes at 1s); beyond it the "
          "oldest is dropped and counted as unacked_bound loss. With a spool "
          "its bounds apply instead.");

ABSL_FLAG(std::string, spool_dir, "/var/lib/weir/spool",
          "Folder of the durable spool: every batch is written there before "
          "it is shipped and kept until queryd acknowledges it, so a "
          "collector restart or a queryd outage loses nothing. Empty for "
          "none (batches then wait in memory only, see "
          "--max-unacked-batches).");
ABSL_FLAG(uint64_t, spool_max_bytes, uint64_t{1} << 30,
          "Size bound of the spool (at least 8388608); past it the oldest "
          "batches go and are counted as spool_full loss.");
ABSL_FLAG(absl::Duration, spool_max_age, absl::Hours(24),
          "Spooled batches older than this go, counted as spool_full loss.");
ABSL_FLAG(std::string, spool_fsync, "always",
          "When a spooled batch is forced to disk: always (before it is "
          "shipped), interval (once a flush interval) or never.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token (scope ingest) sent to queryd as "
          "authorization metadata; re-read at every reconnection. Empty: "
          "no token (for a queryd without --token-file).");
ABSL_FLAG(std::string, queryd_ca, "",
          "PEM CA bundle to verify queryd's certificate with; turns TLS on "
          "for --queryd (the host part must be a name or address the "
          "certificate holds). Empty: plaintext. Re-read when it changes.");
ABSL_FLAG(std::string, client_cert, "",
          "PEM client certificate presented to queryd (mutual TLS, for a "
          "queryd with --client-ca); its subject alternative name must be "
          "this collector's --node. Needs --queryd-ca and --client-key. "
          "Re-read when it changes: new connections use the new one.");
ABSL_FLAG(std::string, client_key, "",
          "PEM private key of --client-cert (unencrypted).");

namespace {

std::string VersionText() {
  return absl::StrCat(
      weir::kWeirVersion, " (libbpf ", libbpf_version_string(), ", gRPC ",
      grpc::Version(), ", protobuf ",
      google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION), ")");
}

}  // namespace

int main(int argc, char** argv) {
  const weir::CommandLineSpec spec{
      .program = "weir-collector",
      .usage =
          "weir-collector observes this node's traffic with a TC eBPF "
          "program on ingress and egress, aggregates flows in the kernel and "
          "ships them to weir-queryd.\n\nUsage: weir-collector [flags]\n"
          "Needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, and kernel BTF.",
      .version = VersionText(),
      .flag_source_prefixes = {"collector/"},
  };
  const std::vector<std::string> rest =
      weir::ParseCommandLineOrExit(argc, argv, spec);
  if (!rest.empty()) {
    weir::UsageError(spec, absl::StrCat("unexpected argument '", rest[0], "'"));
  }

  weir::collector::CollectorOptions options;
  options.interfaces =
      absl::StrSplit(absl::GetFlag(FLAGS_interfaces), ',', absl::SkipEmpty());
  options.queryd_address = absl::GetFlag(FLAGS_queryd);
  options.flush_interval = absl::GetFlag(FLAGS_flush_interval);
  options.node = absl::GetFlag(FLAGS_node);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  options.allowed_ips = absl::GetFlag(FLAGS_allowed_ips);
  options.pin_path = absl::GetFlag(FLAGS_pin_path);
  options.map_size = absl::GetFlag(FLAGS_map_size);
  options.keep_attached = absl::GetFlag(FLAGS_keep_attached);
  options.bpf_stats = absl::GetFlag(FLAGS_bpf_stats);
  options.max_unacked_batches = absl::GetFlag(FLAGS_max_unacked_batches);
  options.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  options.spool_max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  options.spool_max_age = absl::GetFlag(FLAGS_spool_max_age);
  options.spool_fsync = absl::GetFlag(FLAGS_spool_fsync);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  options.queryd_ca = absl::GetFlag(FLAGS_queryd_ca);
  options.client_cert = absl::GetFlag(FLAGS_client_cert);
  options.client_key = absl::GetFlag(FLAGS_client_key);
  if (absl::Status valid = weir::collector::ValidateOptions(options);
      !valid.ok()) {
    weir::UsageError(spec, valid.message());
  }
  // Unreadable or unusable TLS files: one line, before anything attaches.
  if (absl::Status tls =
          weir::LoadTlsMaterial(weir::collector::QuerydTlsPaths(options))
              .status();
      !tls.ok()) {
    std::fprintf(stderr, "weir-collector: %.*s\n",
                 static_cast<int>(tls.message().size()), tls.message().data());
    return 2;
  }

  const absl::Status status = weir::collector::Run(options);
  if (!status.ok()) {
    std::fprintf(stderr, "weir-collector: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
