// Turns one collected interval of the kernel flow table into the FlowBatch
// shipped to queryd.
#ifndef WEIR_COLLECTOR_BATCH_BUILDER_H_
#define WEIR_COLLECTOR_BATCH_BUILDER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/time/time.h"
#include "bpf/flow_table.h"
#include "weir/v1/ingest.pb.h"

namespace weir::collector {

struct BatchHeader {
  std::string node;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  absl::Time interval_start;
  absl::Time interval_end;
  std::string collector_version;
};

// Interface name of an ifindex ("" when unknown).
using InterfaceNamer = std::function<std::string(uint32_t ifindex)>;

// The batch of `interval`: its flows in the compact ingest form (IPv4 as 4
// bytes, kernel times as wall-clock nanoseconds), the names of the
// interfaces they refer to, and the interval's counters: packets seen,
// exported (the flows' sum) and lost by reason. `to_wall` converts the
// kernel's CLOCK_MONOTONIC timestamps.
weir::v1::FlowBatch BuildBatch(const BatchHeader& header,
                               const bpf::FlowTable::Interval& interval,
                               const InterfaceNamer& interface_name,
                               const std::function<absl::Time(uint64_t)>&
                                   to_wall = bpf::KernelTimeToWallTime);

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_BATCH_BUILDER_H_
