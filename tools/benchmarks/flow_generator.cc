#include "tools/benchmarks/flow_generator.h"

#include <algorithm>
#include <cmath>

namespace weir::bench {
namespace {

constexpr uint32_t kEth0 = 2;
constexpr uint32_t kPodVeth = 7;

// Cumulative Zipf(s) weights of ranks 1..n, normalised to end at 1.
std::vector<double> ZipfCdf(int n, double s) {
  std::vector<double> cdf(std::max(n, 1));
  double sum = 0;
  for (int i = 0; i < static_cast<int>(cdf.size()); ++i) {
    sum += 1.0 / std::pow(i + 1.0, s);
    cdf[i] = sum;
  }
  for (double& c : cdf) c /= sum;
  return cdf;
}

std::string V4(uint32_t address) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i)
    bytes[i] = static_cast<char>(address >> (24 - 8 * i));
  return bytes;
}

// 2001:db8:<net>::<host>
std::string V6(uint16_t net, uint32_t host) {
  std::string bytes(16, '\0');
  const uint8_t prefix[] = {0x20, 0x01, 0x0d, 0xb8};
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(prefix[i]);
  bytes[4] = static_cast<char>(net >> 8);
  bytes[5] = static_cast<char>(net);
  for (int i = 0; i < 4; ++i)
    bytes[12 + i] = static_cast<char>(host >> (24 - 8 * i));
  return bytes;
}

struct Service {
  uint32_t protocol;
  uint32_t port;
  double weight;
};

// What internal hosts talk: TCP ~70 %, UDP ~25 %, ICMP ~5 %.
constexpr Service kServices[] = {
    {6, 443, 0.40},  {6, 80, 0.10},   {6, 22, 0.03},   {6, 5432, 0.04},
    {6, 6379, 0.04}, {6, 9090, 0.03}, {6, 8080, 0.06}, {17, 53, 0.15},
    {17, 443, 0.07}, {17, 123, 0.03}, {1, 0, 0.05},
};

}  // namespace

FlowGenerator::FlowGenerator(const FlowGeneratorOptions& options)
    : random_(options.seed),
      internal_cdf_(ZipfCdf(options.internal_hosts, options.zipf_s)),
      remote_cdf_(ZipfCdf(options.remote_peers, options.zipf_s)) {}

int FlowGenerator::Zipf(const std::vector<double>& cdf) {
  const double u = std::uniform_real_distribution<double>(0, 1)(random_);
  return static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u) -
                          cdf.begin());
}

void FlowGenerator::Fill(weir::v1::IngestFlow& flow, const BatchShape& shape) {
  std::uniform_real_distribution<double> unit(0, 1);
  const int local = Zipf(internal_cdf_);
  const int remote = Zipf(remote_cdf_);
  // Popular hosts are reached over IPv6 as often as anyone else: the
  // family depends on the pair, not on popularity.
  const bool v6 = (local * 31 + remote) % 4 == 0;
  std::string local_addr, remote_addr;
  if (v6) {
    local_addr = V6(1, local + 1);
    remote_addr = V6(2, remote + 1);
  } else {
    local_addr = V4(0x0a000000u + 1 + local);    // 10.0.x.y
    remote_addr = V4(0xc6120000u + 1 + remote);  // 198.18.x.y
  }

  double pick = unit(random_);
  const Service* service = &kServices[0];
  for (const Service& s : kServices) {
    service = &s;
    if ((pick -= s.weight) <= 0) break;
  }
  uint32_t protocol = service->protocol;
  if (protocol == 1 && v6) protocol = 58;

  // Half the flows are the node's clients going out, half are clients
  // coming in to the node's servers; each is seen on egress or ingress.
  const bool outbound = unit(random_) < 0.5;
  const bool egress = unit(random_) < 0.5;
  const bool local_is_src = outbound == egress;
  flow.set_ifindex(unit(random_) < 0.7 ? kEth0 : kPodVeth);
  flow.set_direction(egress ? weir::v1::DIRECTION_EGRESS
                            : weir::v1::DIRECTION_INGRESS);
  flow.set_protocol(protocol);
  flow.set_src_addr(local_is_src ? local_addr : remote_addr);
  flow.set_dst_addr(local_is_src ? remote_addr : local_addr);
  if (protocol == 6 || protocol == 17) {
    const uint32_t ephemeral = 32768 + static_cast<uint32_t>(random_() % 28232);
    // The client's ephemeral port on the client's side.
    const bool src_is_client = outbound == local_is_src;
    flow.set_src_port(src_is_client ? ephemeral : service->port);
    flow.set_dst_port(src_is_client ? service->port : ephemeral);
  } else {
    flow.set_icmp_type(egress ? 8 : 0);  // echo request / reply
  }
  if (protocol == 6) flow.set_tcp_flags(unit(random_) < 0.2 ? 0x1b : 0x18);

  // Heavy-tailed sizes (Pareto, alpha 1.2), heavier for popular hosts.
  const double pareto = std::pow(1.0 - unit(random_), -1.0 / 1.2);
  const double boost = local < 10 ? 20.0 : (local < 100 ? 4.0 : 1.0);
  const uint64_t packets =
      std::min<uint64_t>(1 + static_cast<uint64_t>(pareto * boost), 5000000);
  const uint64_t mean_size = protocol == 6 && unit(random_) < 0.6
                                 ? 1200 + random_() % 314
                                 : 64 + random_() % 400;
  flow.set_packets(packets);
  flow.set_bytes(packets * mean_size);
  const uint64_t first =
      shape.interval_start_unix_nano + random_() % (shape.interval_nanos / 2);
  flow.set_first_seen_unix_nano(first);
  flow.set_last_seen_unix_nano(first + random_() % (shape.interval_nanos / 2));
}

weir::v1::FlowBatch FlowGenerator::Batch(const BatchShape& shape) {
  weir::v1::FlowBatch batch;
  batch.set_node(shape.node);
  batch.set_epoch(shape.epoch);
  batch.set_seq(shape.seq);
  batch.set_interval_start_unix_nano(shape.interval_start_unix_nano);
  batch.set_interval_end_unix_nano(shape.interval_start_unix_nano +
                                   shape.interval_nanos);
  batch.set_collector_version("bench");
  weir::v1::Interface* eth0 = batch.add_interfaces();
  eth0->set_ifindex(kEth0);
  eth0->set_name("eth0");
  weir::v1::Interface* veth = batch.add_interfaces();
  veth->set_ifindex(kPodVeth);
  veth->set_name("veth7f3a");
  uint64_t packets = 0, bytes = 0;
  batch.mutable_flows()->Reserve(shape.flows);
  for (int i = 0; i < shape.flows; ++i) {
    weir::v1::IngestFlow* flow = batch.add_flows();
    Fill(*flow, shape);
    packets += flow->packets();
    bytes += flow->bytes();
  }
  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_seen(packets);
  counters->set_bytes_seen(bytes);
  counters->set_packets_exported(packets);
  counters->set_bytes_exported(bytes);
  return batch;
}

void FlowGenerator::Restamp(weir::v1::FlowBatch& batch, uint64_t seq,
                            int64_t delta_nanos) {
  batch.set_seq(seq);
  batch.set_interval_start_unix_nano(batch.interval_start_unix_nano() +
                                     delta_nanos);
  batch.set_interval_end_unix_nano(batch.interval_end_unix_nano() +
                                   delta_nanos);
  for (weir::v1::IngestFlow& flow : *batch.mutable_flows()) {
    flow.set_first_seen_unix_nano(flow.first_seen_unix_nano() + delta_nanos);
    flow.set_last_seen_unix_nano(flow.last_seen_unix_nano() + delta_nanos);
  }
}

}  // namespace weir::bench
