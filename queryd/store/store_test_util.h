// Test and benchmark helpers: scratch directories and generated batches.

#ifndef WEIR_QUERYD_STORE_STORE_TEST_UTIL_H_
#define WEIR_QUERYD_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

// A fresh, empty directory under $TEST_TMPDIR (or /tmp) named `name`.
std::string ScratchDir(absl::string_view name);

inline constexpr uint64_t kNanosPerSecondForTests = 1000000000;

struct BatchSpec {
  std::string node = "node-a";
  uint64_t epoch = 1;
  uint64_t seq = 1;
  // Interval start; the interval is one second long and every flow's
  // first and last seen lie inside it.
  uint64_t interval_start_unix_nano = 1700000000 * kNanosPerSecondForTests;
  int flows = 10;
  // Seeds the flows' fields: the same spec gives the same batch.
  uint64_t seed = 1;
  // Distinct addresses per side (small: flows share rollup keys).
  int address_pool = 8;
  // Losses: packets lost to LOSS_REASON_MAP_FULL and LOSS_REASON_NON_IP.
  uint64_t map_full_packets = 0;
  uint64_t non_ip_packets = 0;
};

// A batch that passes ValidateBatch: IPv4 and IPv6 flows over TCP, UDP and
// ICMP on two interfaces, both directions; counters consistent with the
// flows and losses.
weir::v1::FlowBatch MakeBatch(const BatchSpec& spec);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_STORE_TEST_UTIL_H_
