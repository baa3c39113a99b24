// Realistic flow batches for the ingest and query benchmarks: what a node's
// collector would send, with the skew real traffic has. A few internal hosts
// and remote peers carry most flows and most bytes (Zipf-distributed
// popularity), flow sizes are heavy-tailed (Pareto), and ports and protocols
// follow a typical server mix (HTTPS, HTTP, DNS, SSH, databases; TCP 70 %,
// UDP 25 %, ICMP 5 %; a quarter IPv6).
//
// Addresses never leave the process (they are only stored): internal hosts
// are 10.0.0.0/16 and 2001:db8:1::/48, remote peers 198.18.0.0/15 (RFC 2544,
// benchmarking) and 2001:db8:2::/48.
//
//   FlowGenerator gen({.seed = 7});
//   weir::v1::FlowBatch batch = gen.Batch({.node = "n1", .seq = 1, ...});

#ifndef WEIR_TOOLS_BENCHMARKS_FLOW_GENERATOR_H_
#define WEIR_TOOLS_BENCHMARKS_FLOW_GENERATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "weir/v1/ingest.pb.h"

namespace weir::bench {

struct FlowGeneratorOptions {
  uint64_t seed = 1;
  // Internal hosts (the node's side) and remote peers; popularity of both
  // is Zipf with exponent `zipf_s`.
  int internal_hosts = 5000;
  int remote_peers = 100000;
  double zipf_s = 1.1;
};

struct BatchShape {
  std::string node = "bench-node";
  uint64_t epoch = 1;
  uint64_t seq = 1;
  // The flush interval; every flow's first and last seen lie inside it.
  uint64_t interval_start_unix_nano = 0;
  uint64_t interval_nanos = 1000000000;
  int flows = 1000;
};

class FlowGenerator {
 public:
  explicit FlowGenerator(const FlowGeneratorOptions& options);

  FlowGenerator(const FlowGenerator&) = delete;
  FlowGenerator& operator=(const FlowGenerator&) = delete;

  // A batch that passes ValidateBatch: flows, interfaces (eth0 and a pod
  // veth) and counters consistent with the flows (nothing lost).
  weir::v1::FlowBatch Batch(const BatchShape& shape);

  // Moves every time of `batch` by `delta_nanos` and sets its seq: a cheap
  // way to send one generated batch many times as new batches.
  static void Restamp(weir::v1::FlowBatch& batch, uint64_t seq,
                      int64_t delta_nanos);

 private:
  // An index in [0, n) drawn from the Zipf CDF `cdf`.
  int Zipf(const std::vector<double>& cdf);
  void Fill(weir::v1::IngestFlow& flow, const BatchShape& shape);

  std::mt19937_64 random_;
  std::vector<double> internal_cdf_;
  std::vector<double> remote_cdf_;
};

}  // namespace weir::bench

#endif  // WEIR_TOOLS_BENCHMARKS_FLOW_GENERATOR_H_
