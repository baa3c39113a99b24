#include "collector/metrics.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <exception>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"
#include "prometheus/metric_family.h"

namespace weir::collector {
namespace {

const char* ReasonName(weir::v1::LossReason reason) {
  // "LOSS_REASON_MAP_FULL" -> "map_full" would allocate per call; the
  // proto's own names, lower-cased once, are plenty.
  static const auto* names = [] {
    auto* map = new std::vector<std::string>();
    for (int i = 0; i <= weir::v1::LossReason_MAX; ++i) {
      std::string name = weir::v1::LossReason_Name(i);
      if (name.rfind("LOSS_REASON_", 0) == 0) name = name.substr(12);
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      map->push_back(name);
    }
    return map;
  }();
  const int i = static_cast<int>(reason);
  return i >= 0 && i < static_cast<int>(names->size()) ? (*names)[i].c_str()
                                                       : "unknown";
}

}  // namespace

class CollectorMetrics::Scrape final : public prometheus::Collectable {
 public:
  explicit Scrape(CollectorMetrics& metrics) : metrics_(metrics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_.ReadShipper();
    return metrics_.registry_->Collect();
  }

 private:
  CollectorMetrics& metrics_;
};

absl::StatusOr<std::unique_ptr<CollectorMetrics>> CollectorMetrics::Start(
    const std::string& address, const SourceAllowlist& allowed) {
  std::unique_ptr<CollectorMetrics> m(new CollectorMetrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Registry& r = *m->registry_;
  auto counter = [&r](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(
        {});
  };
  auto gauge = [&r](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  m->packets_seen_ = counter("weir_collector_packets_seen_total",
                             "Packets the kernel program saw (wire packets).");
  m->bytes_seen_ = counter(
      "weir_collector_bytes_seen_total",
      "Bytes the kernel program saw (from the Ethernet header, no FCS).");
  m->packets_exported_ =
      counter("weir_collector_packets_exported_total",
              "Packets in flow records handed to the shipper.");
  m->bytes_exported_ = counter("weir_collector_bytes_exported_total",
                               "Bytes in flow records handed to the shipper.");
  m->lost_ = &prometheus::BuildCounter()
                  .Name("weir_collector_lost_packets_total")
                  .Help("Packets in no flow record, by reason.")
                  .Register(r);
  m->unexplained_ = gauge("weir_collector_unexplained_packets",
                          "Packets seen minus exported minus lost since start; "
                          "0 when every packet is accounted for.");
  m->batches_ = counter("weir_collector_batches_total", "Batches built.");
  m->flows_ = counter("weir_collector_flows_total", "Flow records built.");
  m->drain_seconds_ = gauge("weir_collector_drain_seconds",
                            "Time the last swap, drain and batch build took.");
  m->unacked_ = gauge("weir_collector_unacked_batches",
                      "Batches handed to the shipper and not yet "
                      "acknowledged by queryd (in flight or waiting to be "
                      "sent); 0 when every batch is acknowledged.");
  m->connected_ = gauge("weir_collector_connected",
                        "1 while the ingest stream to queryd is up.");
  m->acked_ = gauge("weir_collector_batches_acked",
                    "Batches acknowledged since start.");
  m->dropped_ =
      gauge("weir_collector_batches_dropped",
            "Batches dropped at the unacknowledged bound since start.");
  m->rejected_ = gauge("weir_collector_batches_rejected",
                       "Batches queryd refused as malformed since start; "
                       "their traffic is lost with reason rejected.");
  m->reconnects_ = gauge("weir_collector_reconnects",
                         "Ingest stream reconnects since start.");
  m->refused_ = gauge("weir_collector_streams_refused",
                      "Ingest streams queryd refused for their token since "
                      "start; their batches are kept and resent.");
  m->spool_bytes_ = gauge("weir_collector_spool_bytes",
                          "Bytes of the spool's segment files on disk.");
  m->spool_pending_ = gauge("weir_collector_spool_pending_batches",
                            "Spooled batches queryd has not acknowledged yet.");
  m->spool_oldest_ =
      gauge("weir_collector_spool_oldest_pending_seconds",
            "Age of the oldest spooled batch not yet acknowledged; 0 when "
            "none.");
  m->spool_replayed_ =
      gauge("weir_collector_spool_replayed_batches",
            "Batches found in the spool at start and sent again.");
  m->spool_torn_ = gauge("weir_collector_spool_torn_records",
                         "Unfinished last records cut off the spool at start "
                         "(their traffic was still in the kernel).");
  m->spool_corrupted_ =
      gauge("weir_collector_spool_corrupted_records",
            "Spooled records found damaged at start; their traffic is lost "
            "unnamed.");
  m->spool_full_packets_ =
      gauge("weir_collector_spool_full_packets",
            "Exported packets of batches the spool let go at its bounds or "
            "could not write since start (lost with reason spool_full).");
  m->spool_refused_ =
      gauge("weir_collector_spool_refused_batches",
            "Batches the spool could not write since start (disk error, or "
            "larger than its bound).");
  // civetweb (under Exposer) sets SO_REUSEADDR on its listener and never
  // SO_REUSEPORT, so a port another process listens on fails here rather
  // than being shared (tests/collector_e2e_test.py).
  try {
    std::vector<std::string> civetweb = {"listening_ports", address,
                                         "num_threads", "2"};
    if (!allowed.allows_everyone()) {
      civetweb.push_back("access_control_list");
      civetweb.push_back(CivetwebAcl(allowed));
    }
    m->exposer_ = std::make_unique<prometheus::Exposer>(std::move(civetweb));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics-address: cannot listen on ", address, ": ", e.what()));
  }
  m->scrape_ = std::make_shared<Scrape>(*m);
  m->exposer_->RegisterCollectable(m->scrape_);
  return m;
}

std::string CollectorMetrics::CivetwebAcl(const SourceAllowlist& allowed) {
  // Deny all, then allow each IPv4 block. Debian's civetweb is built
  // without IPv6, so it listens on IPv4 only and an IPv6 block can match
  // no peer (and would not parse): those are left out.
  std::vector<std::string> entries = {"-0.0.0.0/0"};
  for (const Cidr& block : allowed.blocks()) {
    if (block.network().is_ipv4()) {
      entries.push_back(absl::StrCat("+", block.ToString()));
    }
  }
  return absl::StrJoin(entries, ",");
}

int CollectorMetrics::port() const {
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

CollectorMetrics::~CollectorMetrics() {
  // No scrape may run while the rest goes.
  exposer_.reset();
  if (stats_fd_ >= 0) close(stats_fd_);
}

void CollectorMetrics::WatchShipper(const Shipper* shipper) {
  {
    absl::MutexLock lock(&shipper_mu_);
    shipper_ = shipper;
  }
  ReadShipper();
}

void CollectorMetrics::WatchSpool(const Spool* spool) {
  {
    absl::MutexLock lock(&shipper_mu_);
    spool_ = spool;
  }
  ReadShipper();
}

void CollectorMetrics::ReadShipper() {
  absl::MutexLock lock(&shipper_mu_);
  if (spool_ != nullptr) {
    const SpoolStats s = spool_->stats();
    spool_bytes_->Set(static_cast<double>(s.bytes));
    spool_pending_->Set(static_cast<double>(s.pending_batches));
    spool_oldest_->Set(absl::ToDoubleSeconds(s.oldest_pending_age));
    spool_replayed_->Set(static_cast<double>(s.replayed_batches));
    spool_torn_->Set(static_cast<double>(s.torn_tails));
    spool_corrupted_->Set(static_cast<double>(s.corrupted_records));
    spool_full_packets_->Set(static_cast<double>(s.spool_full_packets));
    spool_refused_->Set(static_cast<double>(s.refused_batches));
  }
  if (shipper_ == nullptr) return;
  const ShipperStats stats = shipper_->stats();
  unacked_->Set(static_cast<double>(stats.unacked));
  connected_->Set(stats.connected ? 1 : 0);
  acked_->Set(static_cast<double>(stats.batches_acked));
  dropped_->Set(static_cast<double>(stats.batches_dropped));
  rejected_->Set(static_cast<double>(stats.batches_rejected));
  reconnects_->Set(static_cast<double>(stats.reconnects));
  refused_->Set(static_cast<double>(stats.streams_refused));
}

void CollectorMetrics::RecordBatch(const weir::v1::FlowBatch& batch,
                                   absl::Duration drain_time) {
  const weir::v1::Counters& c = batch.counters();
  packets_seen_->Increment(static_cast<double>(c.packets_seen()));
  bytes_seen_->Increment(static_cast<double>(c.bytes_seen()));
  packets_exported_->Increment(static_cast<double>(c.packets_exported()));
  bytes_exported_->Increment(static_cast<double>(c.bytes_exported()));
  int64_t lost = 0;
  for (const weir::v1::LossCount& loss : c.losses()) {
    lost_->Add({{"reason", ReasonName(loss.reason())}})
        .Increment(static_cast<double>(loss.packets()));
    lost += static_cast<int64_t>(loss.packets());
  }
  unexplained_packets_ += static_cast<int64_t>(c.packets_seen()) -
                          static_cast<int64_t>(c.packets_exported()) - lost;
  unexplained_->Set(static_cast<double>(unexplained_packets_));
  batches_->Increment();
  flows_->Increment(batch.flows_size());
  drain_seconds_->Set(absl::ToDoubleSeconds(drain_time));
}

absl::Status CollectorMetrics::EnableBpfStats(
    const std::vector<std::pair<std::string, int>>& programs) {
  stats_fd_ = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (stats_fd_ < 0) {
    // Turning the statistics on needs CAP_SYS_ADMIN, which the collector
    // never has; an administrator may have turned them on for everyone.
    int enabled = 0;
    std::ifstream("/proc/sys/kernel/bpf_stats_enabled") >> enabled;
    if (enabled != 1) {
      return absl::FailedPreconditionError(
          "--bpf-stats: the kernel's BPF statistics are off, and turning "
          "them on needs CAP_SYS_ADMIN, which weir-collector does not take; "
          "run 'sysctl -w kernel.bpf_stats_enabled=1' on the node");
    }
  }
  auto& seconds =
      prometheus::BuildGauge()
          .Name("weir_bpf_run_time_seconds_total")
          .Help("Time the kernel spent running the program (BPF statistics).")
          .Register(*registry_);
  auto& runs = prometheus::BuildGauge()
                   .Name("weir_bpf_run_count_total")
                   .Help(
                       "Times the program ran (BPF statistics); run time / "
                       "runs is ns per packet.")
                   .Register(*registry_);
  for (const auto& [name, fd] : programs) {
    programs_.push_back(Program{name, fd, &seconds.Add({{"program", name}}),
                                &runs.Add({{"program", name}})});
  }
  RecordBpfStats();
  return absl::OkStatus();
}

void CollectorMetrics::RecordBpfStats() {
  for (Program& p : programs_) {
    bpf_prog_info info = {};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(p.fd, &info, &len) != 0) continue;
    p.run_seconds->Set(static_cast<double>(info.run_time_ns) / 1e9);
    p.runs->Set(static_cast<double>(info.run_cnt));
  }
}

}  // namespace weir::collector
