#include "queryd/metrics/queryd_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/saturating.h"
#include "prometheus/text_serializer.h"

namespace weir::queryd::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// "LOSS_REASON_MAP_FULL" -> "map_full".
std::string ReasonLabel(weir::v1::LossReason reason) {
  const std::string& full = weir::v1::LossReason_Name(reason);
  if (full.empty()) return absl::StrCat("reason_", static_cast<int>(reason));
  return absl::AsciiStrToLower(absl::StripPrefix(full, "LOSS_REASON_"));
}

ClientMetric Sample(std::vector<ClientMetric::Label> labels, MetricType type,
                    double value) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return metric;
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

// One family with a single sample without labels.
MetricFamily Single(std::string name, std::string help, MetricType type,
                    double value) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  family.metric.push_back(Sample({}, type, value));
  return family;
}

bool ReadFile(const char* path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

}  // namespace

QuerydMetrics::QuerydMetrics(MetricsSources sources, uint32_t top_k)
    : sources_(sources),
      registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("weir_http_requests_total")
                         .Help("HTTP requests answered, by route (the path "
                               "template) and status code.")
                         .Register(*registry_)),
      http_latency_(prometheus::BuildHistogram()
                        .Name("weir_http_request_duration_seconds")
                        .Help("Time from a complete request to its "
                              "response head (for streams: until the stream "
                              "starts), by route.")
                        .Register(*registry_)),
      stream_clients_(prometheus::BuildGauge()
                          .Name("weir_stream_clients")
                          .Help("Open NDJSON and WebSocket streams.")
                          .Register(*registry_)
                          .Add({})),
      connections_refused_(
          prometheus::BuildCounter()
              .Name("weir_queryd_connections_refused_total")
              .Help("Connections closed before any byte was read, by "
                    "listener (http, grpc) and reason (allowlist: the "
                    "peer is outside --allowed-ips; connections: a "
                    "connection cap).")
              .Register(*registry_)),
      limit_hits_(prometheus::BuildCounter()
                      .Name("weir_queryd_limit_hits_total")
                      .Help("Requests, streams and connections stopped by "
                            "a limit, by limit.")
                      .Register(*registry_)),
      top_k_(top_k) {}

void QuerydMetrics::OnStored(const weir::v1::FlowBatch& batch,
                             const std::vector<store::FlowRecord>& records) {
  // Sum per direction first: one lock and a few map updates per batch.
  Traffic by_direction[3];
  for (const store::FlowRecord& record : records) {
    const int d = std::clamp(static_cast<int>(record.direction), 0, 2);
    SaturatingAddTo(by_direction[d].packets, record.packets);
    SaturatingAddTo(by_direction[d].bytes, record.bytes);
  }
  absl::MutexLock lock(&mu_);
  for (int d = 0; d < 3; ++d) {
    if (by_direction[d].packets == 0 && by_direction[d].bytes == 0) continue;
    Traffic& traffic = traffic_[{batch.node(), d}];
    SaturatingAddTo(traffic.packets, by_direction[d].packets);
    SaturatingAddTo(traffic.bytes, by_direction[d].bytes);
  }
  flows_[batch.node()] += records.size();
  for (const store::FlowRecord& record : records) top_k_.Add(record);
}

void QuerydMetrics::ObserveHttpRequest(absl::string_view route, unsigned code,
                                       absl::Duration latency) {
  const std::string label(route);
  http_requests_.Add({{"route", label}, {"code", absl::StrCat(code)}})
      .Increment();
  static const auto* const kBuckets =
      new prometheus::Histogram::BucketBoundaries{
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  http_latency_.Add({{"route", label}}, *kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
}

void QuerydMetrics::StreamOpened() { stream_clients_.Increment(); }
void QuerydMetrics::StreamClosed() { stream_clients_.Decrement(); }

void QuerydMetrics::ConnectionRefused(absl::string_view listener,
                                      absl::string_view reason) {
  connections_refused_
      .Add({{"listener", std::string(listener)},
            {"reason", std::string(reason)}})
      .Increment();
}

void QuerydMetrics::LimitHit(absl::string_view limit) {
  limit_hits_.Add({{"limit", std::string(limit)}}).Increment();
}

void QuerydMetrics::CollectTraffic(absl::Time now,
                                   std::vector<MetricFamily>* families) {
  MetricFamily packets = Family(
      "weir_packets_total",
      "Wire packets in flows stored since queryd started, by direction and "
      "node.",
      MetricType::Counter);
  MetricFamily bytes = Family(
      "weir_bytes_total",
      "Wire bytes (from the Ethernet header, no FCS) in flows stored since "
      "queryd started, by direction and node.",
      MetricType::Counter);
  MetricFamily flows = Family(
      "weir_flows_total", "Flow records stored since queryd started, by node.",
      MetricType::Counter);
  MetricFamily ip_bytes = Family(
      "weir_ip_bytes_total",
      "Bytes by address pair for the top-K pairs (--metrics-top-k) since "
      "each was admitted; src_ip=\"other\" holds the exact remainder, so sums "
      "equal weir_bytes_total.",
      MetricType::Counter);
  uint64_t total_packets = 0;
  uint64_t total_bytes = 0;
  {
    // One lock for every traffic family, so one scrape is consistent: the
    // per-IP series sum to exactly the bytes counted here.
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<std::pair<std::string, int>, Traffic>> sorted(
        traffic_.begin(), traffic_.end());
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, traffic] : sorted) {
      std::vector<ClientMetric::Label> labels = {
          {"direction",
           DirectionLabel(static_cast<weir::v1::Direction>(key.second))},
          {"node", key.first}};
      packets.metric.push_back(Sample(labels, MetricType::Counter,
                                      static_cast<double>(traffic.packets)));
      bytes.metric.push_back(Sample(labels, MetricType::Counter,
                                    static_cast<double>(traffic.bytes)));
      SaturatingAddTo(total_packets, traffic.packets);
      SaturatingAddTo(total_bytes, traffic.bytes);
    }
    std::vector<std::pair<std::string, uint64_t>> nodes(flows_.begin(),
                                                        flows_.end());
    std::sort(nodes.begin(), nodes.end());
    for (const auto& [node, count] : nodes) {
      flows.metric.push_back(Sample({{"node", node}}, MetricType::Counter,
                                    static_cast<double>(count)));
    }
    for (const IpTopK::Series& s : top_k_.Settle(now)) {
      ip_bytes.metric.push_back(Sample({{"direction", s.direction},
                                        {"dst_ip", s.dst_ip},
                                        {"ip_type", s.ip_type},
                                        {"src_ip", s.src_ip}},
                                       MetricType::Counter,
                                       static_cast<double>(s.bytes)));
    }
  }
  MetricFamily alias_ip = ip_bytes;
  alias_ip.name = "network_traffic_bytes_total";
  alias_ip.help = "Alias of weir_ip_bytes_total (the seed exporter's name).";
  families->push_back(std::move(packets));
  families->push_back(std::move(bytes));
  families->push_back(std::move(flows));
  families->push_back(std::move(ip_bytes));
  families->push_back(std::move(alias_ip));
  families->push_back(Single("ayaflow_packets_total",
                             "Alias of sum(weir_packets_total) (the seed's "
                             "name).",
                             MetricType::Counter,
                             static_cast<double>(total_packets)));
  families->push_back(Single("ayaflow_bytes_total",
                             "Alias of sum(weir_bytes_total) (the seed's "
                             "name).",
                             MetricType::Counter,
                             static_cast<double>(total_bytes)));
}

void QuerydMetrics::CollectState(absl::Time now,
                                 std::vector<MetricFamily>* families) {
  if (sources_.stats != nullptr) {
    const StatsTracker::Snapshot s = sources_.stats->Take(now);
    families->push_back(Single("weir_ingest_batches_total",
                               "Flow batches stored since queryd started.",
                               MetricType::Counter,
                               static_cast<double>(s.batches)));
    families->push_back(Single("weir_ingest_records_total",
                               "Flow records stored since queryd started.",
                               MetricType::Counter,
                               static_cast<double>(s.flows)));
    families->push_back(
        Single("weir_ingest_rejects_total",
               "Flow batches rejected (malformed or not storable) since queryd "
               "started.",
               MetricType::Counter, static_cast<double>(s.rejects)));
    families->push_back(
        Single("weir_ingest_duplicates_total",
               "Flow batches received again after they were stored (acked, not "
               "stored twice) since queryd started.",
               MetricType::Counter, static_cast<double>(s.duplicates)));
    families->push_back(Single(
        "weir_ingest_lag_seconds",
        "Time between the end of the newest stored batch's interval and its "
        "arrival.",
        MetricType::Gauge, absl::ToDoubleSeconds(s.lag)));
  }
  if (sources_.live != nullptr) {
    const double active = static_cast<double>(sources_.live->Count(now));
    families->push_back(
        Single("weir_active_connections",
               "Flows that saw a packet within the connection timeout.",
               MetricType::Gauge, active));
    families->push_back(Single("ayaflow_active_connections",
                               "Alias of weir_active_connections (the seed's "
                               "name).",
                               MetricType::Gauge, active));
  }
  if (sources_.ingest != nullptr) {
    families->push_back(Single(
        "weir_collectors_connected", "Collectors with an open ingest stream.",
        MetricType::Gauge, sources_.ingest->connected()));
  }
  if (sources_.store != nullptr) {
    families->push_back(
        Single("weir_store_bytes",
               "Approximate size of the store: SST files "
               "and memtables.",
               MetricType::Gauge,
               static_cast<double>(sources_.store->ApproximateSize())));
    const store::Store::Memory memory = sources_.store->MemoryUsage();
    MetricFamily memory_family =
        Family("weir_store_memory_bytes",
               "Memory the store holds, by part: memtables (every column "
               "family) and block_cache (RocksDB's, at most 256 MiB).",
               MetricType::Gauge);
    memory_family.metric.push_back(
        Sample({{"part", "memtables"}}, MetricType::Gauge,
               static_cast<double>(memory.memtables)));
    memory_family.metric.push_back(
        Sample({{"part", "block_cache"}}, MetricType::Gauge,
               static_cast<double>(memory.block_cache)));
    families->push_back(std::move(memory_family));
    // Whether the store takes writes and, when not, why (docs/design.md
    // §3, "Resource faults"): one series per cause, a fixed set.
    const store::WriteState write_state = sources_.store->GetWriteState();
    families->push_back(
        Single("weir_queryd_store_writable",
               "1 while the store takes writes; 0 while ingest is refused "
               "(weir_queryd_store_state says why).",
               MetricType::Gauge, write_state.writable() ? 1 : 0));
    MetricFamily state_family =
        Family("weir_queryd_store_state",
               "1 for the store's write state now, by state: ok, disk_full, "
               "out_of_descriptors, io_error or error.",
               MetricType::Gauge);
    MetricFamily errors_family =
        Family("weir_queryd_store_write_errors_total",
               "Writes of flow batches the store failed since queryd "
               "started, by cause (the batches were not acknowledged).",
               MetricType::Counter);
    const std::vector<uint64_t> errors = sources_.store->WriteErrors();
    for (int i = 0; i < store::WriteState::kCauses; ++i) {
      const auto cause = static_cast<store::WriteState::Cause>(i);
      const std::string name{store::CauseName(cause)};
      state_family.metric.push_back(Sample({{"state", name}}, MetricType::Gauge,
                                           write_state.cause == cause ? 1 : 0));
      if (cause == store::WriteState::Cause::kNone) continue;
      errors_family.metric.push_back(Sample(
          {{"cause", name}}, MetricType::Counter,
          i < static_cast<int>(errors.size()) ? static_cast<double>(errors[i])
                                              : 0));
    }
    families->push_back(std::move(state_family));
    families->push_back(std::move(errors_family));
    MetricFamily lost =
        Family("weir_collector_lost_packets_total",
               "Packets collectors reported lost, by node and reason, over "
               "everything stored (survives restarts).",
               MetricType::Counter);
    MetricFamily lost_bytes =
        Family("weir_collector_lost_bytes_total",
               "Bytes collectors reported lost, by node and reason, over "
               "everything stored (survives restarts).",
               MetricType::Counter);
    for (const store::NodeInfo& node : sources_.store->GetNodes()) {
      for (const store::LossTotal& loss : node.counters.losses) {
        std::vector<ClientMetric::Label> labels = {
            {"node", node.name}, {"reason", ReasonLabel(loss.reason)}};
        lost.metric.push_back(Sample(labels, MetricType::Counter,
                                     static_cast<double>(loss.packets)));
        lost_bytes.metric.push_back(Sample(labels, MetricType::Counter,
                                           static_cast<double>(loss.bytes)));
      }
    }
    families->push_back(std::move(lost));
    families->push_back(std::move(lost_bytes));
  }
}

std::vector<MetricFamily> QuerydMetrics::Collect(absl::Time now) {
  std::vector<MetricFamily> families = registry_->Collect();
  CollectTraffic(now, &families);
  CollectState(now, &families);
  for (MetricFamily& family : CollectProcessMetrics()) {
    families.push_back(std::move(family));
  }
  return families;
}

std::string QuerydMetrics::Scrape(absl::Time now) {
  return prometheus::TextSerializer().Serialize(Collect(now));
}

std::vector<MetricFamily> CollectProcessMetrics() {
  std::vector<MetricFamily> families;
  std::string stat;
  if (ReadFile("/proc/self/stat", &stat)) {
    // Fields after the command name, which is in parentheses and may hold
    // spaces: the first one here is field 3 (state) of proc(5).
    const size_t close = stat.rfind(')');
    std::vector<absl::string_view> fields;
    if (close != std::string::npos) {
      fields = absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ',
                              absl::SkipEmpty());
    }
    auto field = [&fields](size_t number) -> double {
      double value = 0;
      if (number - 3 < fields.size() &&
          absl::SimpleAtod(fields[number - 3], &value)) {
        return value;
      }
      return 0;
    };
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    families.push_back(Single("process_cpu_seconds_total",
                              "User and system CPU time spent in seconds.",
                              MetricType::Counter,
                              (field(14) + field(15)) / ticks));
    families.push_back(Single("process_virtual_memory_bytes",
                              "Virtual memory size in bytes.",
                              MetricType::Gauge, field(23)));
    families.push_back(Single("process_resident_memory_bytes",
                              "Resident memory size in bytes.",
                              MetricType::Gauge, field(24) * page));
    std::string proc_stat;
    if (ReadFile("/proc/stat", &proc_stat)) {
      for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
        double boot = 0;
        if (absl::ConsumePrefix(&line, "btime ") &&
            absl::SimpleAtod(line, &boot)) {
          families.push_back(
              Single("process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.",
                     MetricType::Gauge, boot + field(22) / ticks));
        }
      }
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int open = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++open;
    }
    closedir(dir);
    families.push_back(Single("process_open_fds",
                              "Number of open file descriptors.",
                              MetricType::Gauge, open - 1));  // minus `dir`
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(
        Single("process_max_fds", "Maximum number of open file descriptors.",
               MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace weir::queryd::metrics
