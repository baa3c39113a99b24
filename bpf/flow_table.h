// Reads the kernel's flow table without racing the datapath.
//
// The program adds packets to the flow map in the active slot of a two-slot
// map-in-map (bpf/maps.bpf.h). Swap() makes the other slot active and
// returns only once no program can still be adding to the old one: it
// re-installs the old slot's map in the outer map, an update the kernel
// completes only after every running BPF program has finished
// (maybe_wait_bpf_programs). The old map is then quiescent and Drain() reads
// and clears it at leisure; per-CPU values need no atomics.
//
// Swap() waits for an RCU grace period (µs with rcu_expedited, milliseconds
// otherwise, more under load): call it from a thread that may block.
#ifndef WEIR_BPF_FLOW_TABLE_H_
#define WEIR_BPF_FLOW_TABLE_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bpf/counters.h"
#include "bpf/skeleton.h"
#include "bpf/weir_flow.h"

namespace weir::bpf {

// One flow of a drained map with its values merged across CPUs: packets,
// bytes summed, first_seen_ns the earliest and last_seen_ns the latest
// kernel time (CLOCK_MONOTONIC, coarse), tcp_flags ORed.
struct FlowEntry {
  struct weir_flow_key key;
  struct weir_flow_value value;
};

class FlowTable {
 public:
  // The maps, by fd. Not owned: whoever owns them (the Skeleton) must
  // outlive the table.
  struct Maps {
    int flow_slots_fd = -1;   // weir_flow_slots (ARRAY_OF_MAPS)
    int active_slot_fd = -1;  // weir_active_slot (ARRAY, 1 entry)
    std::array<int, WEIR_FLOW_SLOTS> flow_map_fds = {
        -1, -1};           // the map in each slot
    int counters_fd = -1;  // weir_counters (PERCPU_ARRAY, a set per slot)
  };

  // One slot's worth of traffic: its flows and its counters, taken
  // together from a quiescent slot, so counters.seen() equals the sum of the
  // flows plus counters.lost(), exactly.
  struct Interval {
    uint32_t slot = 0;
    std::vector<FlowEntry> flows;
    CounterSnapshot counters;
  };

  explicit FlowTable(const Maps& maps);
  // The loaded skeleton's maps.
  explicit FlowTable(const Skeleton& skeleton);

  // The slot packets currently go to.
  absl::StatusOr<uint32_t> ActiveSlot() const;

  // Makes the other slot active and waits until no program can still use
  // the previously active one, which it returns.
  absl::StatusOr<uint32_t> Swap();

  // Reads every flow in `slot`'s map, merged across CPUs, then deletes
  // them. The slot must not be the active one (FAILED_PRECONDITION); it is
  // quiescent once a Swap() away from it returned. On error nothing is
  // deleted, so a later Drain sees the flows again.
  absl::StatusOr<std::vector<FlowEntry>> Drain(uint32_t slot);

  // Swap(), then Drain() the slot that was active: every packet added since
  // the previous SwapAndDrain, exactly once.
  absl::StatusOr<std::vector<FlowEntry>> SwapAndDrain();

  // Swap(), then drain the old slot's flows and read and clear its
  // counters: every packet since the previous call, exactly once, each
  // either in a flow or under a loss reason. On failure the slot keeps
  // what it holds, and a later call collects it.
  absl::StatusOr<Interval> SwapAndCollect();

 private:
  Maps maps_;
  int num_cpus_;
};

// The wall-clock time of a kernel CLOCK_MONOTONIC timestamp such as
// first_seen_ns, using the current offset between the two clocks (which moves
// when the wall clock is stepped; coarse timestamps are one tick behind).
absl::Time KernelTimeToWallTime(uint64_t monotonic_ns);

}  // namespace weir::bpf

#endif  // WEIR_BPF_FLOW_TABLE_H_
