#include "bpf/counters.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace weir::bpf {

weir_counter CounterSnapshot::lost() const {
  weir_counter sum = {};
  for (int i = WEIR_COUNTER_SEEN + 1; i < WEIR_COUNTER_MAX; ++i) {
    sum.packets += by_index[i].packets;
    sum.bytes += by_index[i].bytes;
  }
  return sum;
}

CounterSnapshot CounterSnapshot::Since(const CounterSnapshot& earlier) const {
  CounterSnapshot delta;
  for (int i = 0; i < WEIR_COUNTER_MAX; ++i) {
    delta.by_index[i].packets =
        by_index[i].packets - earlier.by_index[i].packets;
    delta.by_index[i].bytes = by_index[i].bytes - earlier.by_index[i].bytes;
  }
  return delta;
}

absl::StatusOr<CounterSnapshot> ReadCounters(int counters_fd, uint32_t slot) {
  if (slot >= WEIR_FLOW_SLOTS) {
    return absl::InvalidArgumentError(absl::StrCat("no flow slot ", slot));
  }
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return absl::ErrnoToStatus(-cpus, "count possible CPUs");
  // One value per possible CPU; weir_counter is 16 bytes, already 8-aligned.
  std::vector<weir_counter> per_cpu(static_cast<size_t>(cpus));
  CounterSnapshot snapshot;
  for (__u32 index = 0; index < WEIR_COUNTER_MAX; ++index) {
    const __u32 key = slot * WEIR_COUNTER_MAX + index;
    if (int err = bpf_map_lookup_elem(counters_fd, &key, per_cpu.data());
        err != 0) {
      return absl::ErrnoToStatus(-err, absl::StrCat("weir_counters: read slot ",
                                                    slot, " index ", index));
    }
    for (const weir_counter& c : per_cpu) {
      snapshot.by_index[index].packets += c.packets;
      snapshot.by_index[index].bytes += c.bytes;
    }
  }
  return snapshot;
}

absl::StatusOr<CounterSnapshot> ReadCounters(int counters_fd) {
  CounterSnapshot sum;
  for (uint32_t slot = 0; slot < WEIR_FLOW_SLOTS; ++slot) {
    WEIR_ASSIGN_OR_RETURN(CounterSnapshot one, ReadCounters(counters_fd, slot));
    for (int i = 0; i < WEIR_COUNTER_MAX; ++i) {
      sum.by_index[i].packets += one.by_index[i].packets;
      sum.by_index[i].bytes += one.by_index[i].bytes;
    }
  }
  return sum;
}

absl::Status ClearCounters(int counters_fd, uint32_t slot) {
  if (slot >= WEIR_FLOW_SLOTS) {
    return absl::InvalidArgumentError(absl::StrCat("no flow slot ", slot));
  }
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return absl::ErrnoToStatus(-cpus, "count possible CPUs");
  const std::vector<weir_counter> zeros(static_cast<size_t>(cpus));
  for (__u32 index = 0; index < WEIR_COUNTER_MAX; ++index) {
    const __u32 key = slot * WEIR_COUNTER_MAX + index;
    if (int err = bpf_map_update_elem(counters_fd, &key, zeros.data(), BPF_ANY);
        err != 0) {
      return absl::ErrnoToStatus(
          -err,
          absl::StrCat("weir_counters: clear slot ", slot, " index ", index));
    }
  }
  return absl::OkStatus();
}

}  // namespace weir::bpf
