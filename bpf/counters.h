// Reads the kernel program's per-CPU counters (weir_counters): packets and
// bytes seen, and per loss reason, each summed over the CPUs.
//
// There is one set of counters per flow slot (bpf/weir_flow.h). The
// collector reads and clears the set of a slot it has just swapped away from
// (FlowTable::SwapAndDrainAll), so each interval's counters match its flows
// exactly. ReadCounters(fd) sums both sets: it only grows while nobody
// clears, so tests take deltas of it. Index i > 0 is weir.v1.LossReason i.
#ifndef WEIR_BPF_COUNTERS_H_
#define WEIR_BPF_COUNTERS_H_

#include <array>

#include "absl/status/statusor.h"
#include "bpf/weir_flow.h"

namespace weir::bpf {

struct CounterSnapshot {
  // Indexed by enum weir_counter_index.
  std::array<weir_counter, WEIR_COUNTER_MAX> by_index = {};

  const weir_counter& seen() const { return by_index[WEIR_COUNTER_SEEN]; }
  const weir_counter& at(weir_counter_index index) const {
    return by_index[index];
  }
  // Sum of every loss reason: seen == flows + lost(), packets and bytes.
  weir_counter lost() const;
  // this - earlier, per counter (what happened in between).
  CounterSnapshot Since(const CounterSnapshot& earlier) const;
};

// Sums each counter of the PERCPU_ARRAY at `counters_fd` over the CPUs and
// over both slots' sets.
absl::StatusOr<CounterSnapshot> ReadCounters(int counters_fd);

// The counter set of one slot, summed over the CPUs.
absl::StatusOr<CounterSnapshot> ReadCounters(int counters_fd, uint32_t slot);

// Zeroes the counter set of `slot`. Only for a quiescent slot.
absl::Status ClearCounters(int counters_fd, uint32_t slot);

}  // namespace weir::bpf

#endif  // WEIR_BPF_COUNTERS_H_
