#include "collector/collector.h"

#include <bpf/bpf.h>
#include <linux/magic.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bpf/flow_table.h"
#include "bpf/skeleton.h"
#include "collector/attach.h"
#include "collector/batch_builder.h"
#include "collector/epoch_file.h"
#include "collector/fault_point.h"
#include "collector/metrics.h"
#include "collector/preflight.h"
#include "collector/queryd_credentials.h"
#include "collector/shipper.h"
#include "collector/spool.h"
#include "collector/token_file.h"
#include "common/source_allowlist.h"
#include "common/status_macros.h"
#include "common/version.h"

namespace weir::collector {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "weir-collector: %s\n", line.c_str());
}

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// Interface names by index, looked up once and kept (an interface that
// went away keeps the name it had).
class InterfaceNames {
 public:
  std::string operator()(uint32_t ifindex) {
    auto it = names_.find(ifindex);
    if (it != names_.end()) return it->second;
    char name[IF_NAMESIZE] = {};
    std::string found = if_indextoname(ifindex, name) != nullptr
                            ? std::string(name)
                            : absl::StrCat("if", ifindex);
    names_.emplace(ifindex, found);
    return found;
  }

 private:
  absl::flat_hash_map<uint32_t, std::string> names_;
};

}  // namespace

TlsFilePaths QuerydTlsPaths(const CollectorOptions& options) {
  TlsFilePaths paths;
  paths.cert = options.client_cert;
  paths.key = options.client_key;
  paths.ca = options.queryd_ca;
  paths.cert_flag = "--client-cert";
  paths.key_flag = "--client-key";
  paths.ca_flag = "--queryd-ca";
  return paths;
}

absl::Status ValidateOptions(const CollectorOptions& options) {
  if (options.client_cert.empty() != options.client_key.empty()) {
    return absl::InvalidArgumentError(
        options.client_cert.empty() ? "--client-key: needs --client-cert"
                                    : "--client-cert: needs --client-key");
  }
  if (!options.client_cert.empty() && options.queryd_ca.empty()) {
    return absl::InvalidArgumentError(
        "--client-cert: needs --queryd-ca (a client certificate is for TLS)");
  }
  if (options.interfaces.empty()) {
    return absl::InvalidArgumentError("--interfaces: no interface given");
  }
  if (options.queryd_address.empty()) {
    return absl::InvalidArgumentError("--queryd: must be host:port");
  }
  WEIR_RETURN_IF_ERROR(
      SourceAllowlist::Parse("--allowed-ips", options.allowed_ips).status());
  if (!options.token_file.empty()) {
    // Unreadable or empty at start: one line and exit 2, not a collector
    // that is refused forever.
    WEIR_RETURN_IF_ERROR(ReadTokenFile(options.token_file).status());
  }
  if (options.flush_interval < absl::Milliseconds(10) ||
      options.flush_interval > absl::Minutes(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--flush-interval: ", absl::FormatDuration(options.flush_interval),
        " is outside 10ms..10m"));
  }
  if (options.map_size < 1024 || options.map_size > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--map-size: ", options.map_size, " is outside 1024..16777216"));
  }
  if (options.pin_path.empty() || options.pin_path[0] != '/') {
    return absl::InvalidArgumentError("--pin-path: must be an absolute path");
  }
  if (!options.spool_dir.empty() && options.spool_dir[0] != '/') {
    return absl::InvalidArgumentError(
        "--spool-dir: must be an absolute path, or empty for no spool");
  }
  if (!ParseFsyncPolicy(options.spool_fsync).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--spool-fsync: '", options.spool_fsync,
                     "' is not one of always, interval, never"));
  }
  // Two segments at least (SpoolOptions::segment_bytes is 4 MiB).
  if (options.spool_max_bytes < (uint64_t{8} << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--spool-max-bytes: ", options.spool_max_bytes,
                     " is under 8388608 (two 4 MiB segments)"));
  }
  if (options.spool_max_age < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--spool-max-age: ", absl::FormatDuration(options.spool_max_age),
        " is under 1s"));
  }
  if (options.max_unacked_batches == 0) {
    return absl::InvalidArgumentError(
        "--max-unacked-batches: must be at least 1");
  }
  return absl::OkStatus();
}

absl::Status CheckBpffs(const std::string& pin_path) {
  const std::string parent = pin_path.substr(0, pin_path.rfind('/'));
  struct statfs fs = {};
  if (statfs(parent.empty() ? "/" : parent.c_str(), &fs) != 0 ||
      fs.f_type != BPF_FS_MAGIC) {
    return absl::FailedPreconditionError(
        absl::StrCat("--pin-path: ", parent.empty() ? "/" : parent,
                     " is not a bpffs; mount one with 'mount -t bpf bpf ",
                     parent, "' (Kubernetes: mount the host's /sys/fs/bpf)"));
  }
  return absl::OkStatus();
}

absl::Status Run(const CollectorOptions& options) {
  WEIR_RETURN_IF_ERROR(CheckCapabilities());
  WEIR_RETURN_IF_ERROR(CheckKernelBtf());
  WEIR_RETURN_IF_ERROR(CheckBpffs(options.pin_path));

  std::vector<std::string> interfaces = options.interfaces;
  if (interfaces.size() == 1 && interfaces[0] == "all") {
    WEIR_ASSIGN_OR_RETURN(interfaces, InterfacesThatAreUp());
    if (interfaces.empty()) {
      return absl::FailedPreconditionError(
          "--interfaces=all: no interface other than loopback is up");
    }
  }
  // Before anything is loaded or pinned: a name that is not there fails
  // the start with nothing to undo.
  for (const std::string& name : interfaces) {
    if (if_nametoindex(name.c_str()) == 0) {
      return absl::NotFoundError(
          absl::StrCat("--interfaces: no interface named ", name));
    }
  }
  const std::string node = options.node.empty() ? Hostname() : options.node;

  // Stop signals are taken by sigtimedwait in the loop below; block them
  // before any thread starts so none of those threads receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // A start that fails leaves the bpffs as it found it (the cleanups below,
  // cancelled once the collector runs): what it pinned goes, and so do the
  // folders it made; maps it adopted from an earlier collector stay pinned
  // with their counts, which the next start must not lose.
  const std::string links_dir = absl::StrCat(options.pin_path, "/links");
  const bool had_pin_dir = access(options.pin_path.c_str(), F_OK) == 0;
  const bool had_links_dir = access(links_dir.c_str(), F_OK) == 0;
  absl::Cleanup remove_folders = [&] {
    // rmdir leaves a folder that anything is still pinned in.
    if (!had_links_dir) rmdir(links_dir.c_str());
    if (!had_pin_dir) rmdir(options.pin_path.c_str());
  };

  bpf::ProgramOptions program;
  program.flow_map_entries = options.map_size;
  program.pin_path = options.pin_path;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<bpf::Skeleton> skeleton,
                        bpf::Skeleton::OpenAndLoad(program));
  if (skeleton->adopted()) {
    Log(absl::StrCat("adopted the maps pinned in ", options.pin_path,
                     ": counts made while no collector ran are kept"));
  }
  absl::Cleanup unpin = [&] {
    if (skeleton->adopted()) return;
    if (absl::Status s = skeleton->Unpin(); !s.ok()) Log(s.ToString());
  };

  Attacher attacher(options.pin_path);
  std::vector<Attachment> attachments;
  auto detach_all = [&] {
    for (Attachment& a : attachments) {
      if (absl::Status s = attacher.Detach(a); !s.ok()) Log(s.ToString());
    }
  };
  // A hook taken over from an earlier collector stays attached (now with
  // this start's program, which counts into the same adopted maps); only
  // what this start attached goes.
  absl::Cleanup undo_attach = [&] {
    for (Attachment& a : attachments) {
      if (a.adopted) {
        attacher.Release(a);
      } else if (absl::Status s = attacher.Detach(a); !s.ok()) {
        Log(s.ToString());
      }
    }
  };
  for (const std::string& name : interfaces) {
    for (auto [direction, fd] : {std::pair{weir::v1::DIRECTION_INGRESS,
                                           skeleton->ingress_program_fd()},
                                 std::pair{weir::v1::DIRECTION_EGRESS,
                                           skeleton->egress_program_fd()}}) {
      WEIR_ASSIGN_OR_RETURN(Attachment a, attacher.Attach(fd, name, direction));
      attachments.push_back(std::move(a));
    }
  }
  Log(absl::StrCat(
      "observing ", absl::StrJoin(interfaces, ", "), " (",
      attachments.front().mode == AttachMode::kTcx ? "tcx" : "clsact",
      ") as node ", node, "; shipping to ", options.queryd_address, " every ",
      absl::FormatDuration(options.flush_interval)));

  // The spool, before the shipper that acks into it. Opening it recovers
  // what an earlier process left unacknowledged.
  std::unique_ptr<Spool> spool;
  if (!options.spool_dir.empty()) {
    // Its parent folders too (the default is under /var/lib/weir).
    std::error_code made;
    std::filesystem::create_directories(
        std::filesystem::path(options.spool_dir).parent_path(), made);
    SpoolOptions spooling;
    spooling.directory = options.spool_dir;
    spooling.max_bytes = options.spool_max_bytes;
    spooling.max_age = options.spool_max_age;
    WEIR_ASSIGN_OR_RETURN(spooling.fsync,
                          ParseFsyncPolicy(options.spool_fsync));
    absl::StatusOr<std::unique_ptr<Spool>> opened =
        Spool::Open(std::move(spooling));
    if (!opened.ok()) {
      return absl::Status(
          opened.status().code(),
          absl::StrCat("--spool-dir: ", opened.status().message()));
    }
    spool = *std::move(opened);
    const SpoolStats found = spool->stats();
    Log(absl::StrCat("spool ", options.spool_dir, ": ", found.replayed_batches,
                     " batches to resend",
                     found.torn_tails ? ", a torn last record cut off" : "",
                     found.corrupted_records
                         ? absl::StrCat(", ", found.corrupted_records,
                                        " corrupted records lost")
                         : ""));
  }

  // The metrics read the shipper's state at each scrape: it is made first
  // so that it outlives them.
  ShipperOptions shipping;
  shipping.address = options.queryd_address;
  shipping.max_unacked = options.max_unacked_batches;
  shipping.token_file = options.token_file;
  shipping.log = [](const std::string& line) { Log(line); };
  if (spool != nullptr) {
    shipping.on_acked = [&spool](uint64_t epoch, uint64_t seq) {
      if (absl::StatusOr<size_t> s = spool->Ack(epoch, seq); !s.ok()) {
        Log(absl::StrCat("spool: recording an ack: ", s.status().ToString()));
      }
    };
  }
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<QuerydCredentials> credentials,
                        QuerydCredentials::Create(QuerydTlsPaths(options),
                                                  [](absl::string_view line) {
                                                    Log(std::string(line));
                                                  }));
  shipping.credentials = [&credentials] { return credentials->Current(); };
  Shipper shipper(shipping, credentials->Current());
  // What an earlier process spooled goes first, under its own epoch and
  // seq: queryd stores what it lacks and acks the rest as duplicates.
  if (spool != nullptr) {
    WEIR_RETURN_IF_ERROR(spool->ForEachPending(
        [&shipper](weir::v1::FlowBatch batch) -> absl::Status {
          shipper.Enqueue(std::move(batch));
          return absl::OkStatus();
        }));
  }

  WEIR_ASSIGN_OR_RETURN(
      const SourceAllowlist metrics_allowed,
      SourceAllowlist::Parse("--allowed-ips", options.allowed_ips));
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<CollectorMetrics> metrics,
      CollectorMetrics::Start(options.metrics_address, metrics_allowed));
  metrics->WatchShipper(&shipper);
  if (spool != nullptr) metrics->WatchSpool(spool.get());
  if (options.bpf_stats) {
    WEIR_RETURN_IF_ERROR(
        metrics->EnableBpfStats({{"ingress", skeleton->ingress_program_fd()},
                                 {"egress", skeleton->egress_program_fd()}}));
  }
  // Started: from here on, stopping decides what stays.
  std::move(undo_attach).Cancel();
  std::move(unpin).Cancel();
  std::move(remove_folders).Cancel();

  bpf::FlowTable table(*skeleton);
  InterfaceNames names;
  BatchHeader header;
  header.node = node;
  // A new epoch per start: a restarted collector's seq 1 is never taken
  // for a batch queryd already has. With a spool, the epoch never goes
  // backwards (epoch_file.h): above the last start's and every spooled
  // batch's, whatever the clock says.
  header.epoch = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  if (spool != nullptr) {
    uint64_t spooled = 0;
    for (const BatchId& id : spool->PendingIds()) {
      spooled = std::max(spooled, id.epoch + 1);
    }
    const std::string path = absl::StrCat(options.spool_dir, "/EPOCH");
    absl::StatusOr<EpochChoice> choice = NextEpoch(path, absl::Now(), spooled);
    if (!choice.ok()) {
      return absl::Status(choice.status().code(),
                          absl::StrCat("--spool-dir: the epoch file: ",
                                       choice.status().message()));
    }
    header.epoch = choice->epoch;
    if (choice->clock_behind) {
      Log(absl::StrCat("the clock is behind this node's last epoch (", path,
                       "): shipping under epoch ", choice->epoch,
                       " so queryd does not drop the batches as stale"));
    }
    if (choice->file_damaged) {
      Log(absl::StrCat(path, " was damaged and is replaced"));
    }
  }
  header.collector_version = kWeirVersion;
  header.interval_start = absl::Now();

  bool connected = false;
  uint64_t rejected = 0;
  // An interval spooled whose kernel slot could not be cleared: it must be
  // before the next swap makes the slot active again.
  bool uncleared = false;
  // Makes `interval` a batch and hands it on: to the shipper, or first to
  // the spool.
  auto ship = [&](const bpf::FlowTable::Interval& interval, absl::Time began) {
    header.interval_end = absl::Now();
    ++header.seq;
    weir::v1::FlowBatch batch =
        BuildBatch(header, interval, [&](uint32_t i) { return names(i); });
    batch.set_kernel_generation(interval.generation);
    metrics->RecordBatch(batch, absl::Now() - began);
    if (spool == nullptr) {
      shipper.Enqueue(std::move(batch));
    } else {
      // What the shipper let go of rides on this batch, folded in before it
      // is written so that the spooled record and the shipped batch agree
      // and a crash cannot lose the carry.
      Carried carried = shipper.TakeCarried();
      FoldCarriedCounters(carried.counters, batch.mutable_counters());
      std::vector<BatchId> dropped;
      if (absl::Status s = spool->Append(&batch, &dropped); !s.ok()) {
        // The spool carries its accounting into the next batch it takes.
        Log(absl::StrCat("spool: batch ", header.seq,
                         " not written, its traffic is counted as "
                         "spool_full loss: ",
                         s.ToString()));
      } else {
        if (!dropped.empty()) {
          std::vector<std::pair<uint64_t, uint64_t>> ids;
          ids.reserve(dropped.size());
          for (const BatchId& id : dropped) ids.emplace_back(id.epoch, id.seq);
          shipper.Forget(ids);
        }
        shipper.Enqueue(std::move(batch));
      }
      // The refused batches' accounting is written with this batch (or
      // carried by the spool): release them.
      for (const auto& [epoch, seq] : carried.rejected) {
        if (absl::StatusOr<size_t> s = spool->Ack(epoch, seq); !s.ok()) {
          Log(absl::StrCat("spool: releasing a refused batch: ",
                           s.status().ToString()));
        }
      }
    }
  };
  // With a spool, a slot is cleared only once its batch is on disk, so a
  // collector killed in between leaves it full; the spool's newest record
  // says whether it was spooled (docs/spool.md, "The kernel slot").
  auto clear_spooled = [&](const bpf::FlowTable::Interval& interval) {
    if (absl::Status s = table.Clear(interval); !s.ok()) {
      uncleared = true;
      Log(absl::StrCat("clearing the kernel slot of a spooled batch: ",
                       s.ToString(), "; retried before the next swap"));
    }
  };
  if (spool != nullptr) {
    WEIR_ASSIGN_OR_RETURN(std::optional<bpf::FlowTable::Interval> left,
                          table.ReadPrevious());
    if (left.has_value()) {
      if (spool->newest_kernel_generation() == left->generation) {
        Log(absl::StrCat("kernel slot of generation ", left->generation,
                         " was spooled by an earlier collector but not "
                         "cleared; clearing it"));
      } else {
        Log(absl::StrCat("kernel slot of generation ", left->generation,
                         " was left unspooled by an earlier collector (",
                         left->counters.seen().packets,
                         " packets); shipping it"));
        ship(*left, absl::Now());
        header.interval_start = header.interval_end;
      }
      clear_spooled(*left);
    }
  }
  auto collect = [&]() -> absl::Status {
    const absl::Time began = absl::Now();
    if (uncleared) {
      WEIR_ASSIGN_OR_RETURN(std::optional<bpf::FlowTable::Interval> left,
                            table.ReadPrevious());
      if (left.has_value()) WEIR_RETURN_IF_ERROR(table.Clear(*left));
      uncleared = false;
    }
    if (spool == nullptr) {
      WEIR_ASSIGN_OR_RETURN(bpf::FlowTable::Interval interval,
                            table.SwapAndCollect());
      ship(interval, began);
    } else {
      WEIR_ASSIGN_OR_RETURN(bpf::FlowTable::Interval interval,
                            table.SwapAndRead());
      WEIR_FAULT_POINT("collector.after_read_before_spool");
      ship(interval, began);
      WEIR_FAULT_POINT("collector.after_spool_before_clear");
      clear_spooled(interval);
    }
    const ShipperStats stats = shipper.stats();
    if (stats.batches_rejected != rejected) {
      Log(absl::StrCat("queryd refused ", stats.batches_rejected - rejected,
                       " batch(es) as malformed, counted as rejected loss: ",
                       stats.last_error));
      rejected = stats.batches_rejected;
    }
    if (stats.connected != connected) {
      connected = stats.connected;
      Log(connected
              ? absl::StrCat("connected to ", options.queryd_address)
              : absl::StrCat("lost ", options.queryd_address, " (",
                             stats.last_error.empty() ? "no error yet"
                                                      : stats.last_error,
                             "); ", stats.unacked, " batches wait for it"));
    }
    header.interval_start = header.interval_end;
    return absl::OkStatus();
  };

  absl::Time next = absl::Now() + options.flush_interval;
  int signal = 0;
  while (signal == 0) {
    const absl::Duration wait =
        std::max(next - absl::Now(), absl::ZeroDuration());
    const timespec timeout = absl::ToTimespec(wait);
    const int got = sigtimedwait(&stop, nullptr, &timeout);
    if (got > 0) {
      signal = got;
      break;
    }
    next += options.flush_interval;
    if (absl::Status s = collect(); !s.ok()) {
      Log(absl::StrCat("collecting flows: ", s.ToString()));
    }
    if (options.bpf_stats) metrics->RecordBpfStats();
    if (spool != nullptr && options.spool_fsync == "interval") {
      if (absl::Status s = spool->Sync(); !s.ok()) Log(s.ToString());
    }
  }
  Log(absl::StrCat(strsignal(signal), ", stopping"));

  if (options.keep_attached) {
    // Everything stays: the pinned links keep the programs attached and
    // the pinned maps keep counting; the next collector collects it.
    for (Attachment& a : attachments) attacher.Release(a);
    const bool flushed = shipper.Flush(absl::Seconds(5));
    Log(absl::StrCat(
        "left attached with maps pinned in ", options.pin_path,
        flushed ? ""
        : spool != nullptr
            ? "; batches not yet acknowledged stay in the spool for the next "
              "start"
            : "; some batches were not acknowledged"));
    return absl::OkStatus();
  }
  // Detach first, so the last collection holds every packet observed.
  detach_all();
  for (int i = 0; i < 2; ++i) {  // both slots
    if (absl::Status s = collect(); !s.ok()) Log(s.ToString());
  }
  const bool flushed = shipper.Flush(absl::Seconds(10));
  if (absl::Status s = skeleton->Unpin(); !s.ok()) Log(s.ToString());
  // The folders we made; rmdir leaves them if anything else is in them.
  rmdir(links_dir.c_str());
  rmdir(options.pin_path.c_str());
  const ShipperStats stats = shipper.stats();
  if (!flushed && spool != nullptr) {
    if (absl::Status s = spool->Sync(); !s.ok()) Log(s.ToString());
    Log(absl::StrCat("detached and unpinned; ", stats.unacked,
                     " batches not acknowledged by ", options.queryd_address,
                     " stay in the spool ", options.spool_dir,
                     " for the next start"));
    return absl::OkStatus();
  }
  if (!flushed) {
    return absl::UnavailableError(
        absl::StrCat(stats.unacked, " batches were not acknowledged by ",
                     options.queryd_address, " before exit and are lost"));
  }
  Log("detached, unpinned and every batch acknowledged");
  return absl::OkStatus();
}

}  // namespace weir::collector
