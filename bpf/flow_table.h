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
// Element 0 of weir_active_slot is a generation: it grows by one at each
// swap, and the active slot is generation % 2 (the program reads bit 0). An
// Interval carries the generation it was read under, so a collector that
// spools a batch before clearing its slot can tell, after a crash between
// the two, whether the slot it finds full was already spooled
// (docs/spool.md, "The kernel slot").
//
// Swap() waits for an RCU grace period (µs with rcu_expedited, milliseconds
// otherwise, more under load): call it from a thread that may block.
#ifndef WEIR_BPF_FLOW_TABLE_H_
#define WEIR_BPF_FLOW_TABLE_H_

#include <array>
#include <cstdint>
#include <optional>
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
    // The generation the slot was active under (see above).
    uint32_t generation = 0;
    uint32_t slot = 0;
    std::vector<FlowEntry> flows;
    CounterSnapshot counters;
  };

  explicit FlowTable(const Maps& maps);
  // The loaded skeleton's maps.
  explicit FlowTable(const Skeleton& skeleton);

  // The current generation, and the slot packets currently go to.
  absl::StatusOr<uint32_t> Generation() const;
  absl::StatusOr<uint32_t> ActiveSlot() const;

  // Makes the other slot active and waits until no program can still use
  // the previously active one, which it returns. SwapGeneration() returns
  // the generation that was active instead.
  absl::StatusOr<uint32_t> Swap();
  absl::StatusOr<uint32_t> SwapGeneration();

  // Reads every flow in `slot`'s map, merged across CPUs, and deletes
  // nothing. The slot must not be the active one (FAILED_PRECONDITION); it
  // is quiescent once a Swap() away from it returned.
  absl::StatusOr<std::vector<FlowEntry>> Read(uint32_t slot);
  // Deletes `flows` (as Read returned them) from `slot`'s map.
  absl::Status Delete(uint32_t slot, const std::vector<FlowEntry>& flows);
  // Read, then Delete. On error nothing is deleted, so a later Drain sees
  // the flows again.
  absl::StatusOr<std::vector<FlowEntry>> Drain(uint32_t slot);

  // Swap(), then Drain() the slot that was active: every packet added since
  // the previous SwapAndDrain, exactly once.
  absl::StatusOr<std::vector<FlowEntry>> SwapAndDrain();

  // Swap(), then read the old slot's flows and counters, clearing
  // nothing: every packet since the previous swap, each either in a flow or
  // under a loss reason. Clear() it once the interval is safe elsewhere.
  absl::StatusOr<Interval> SwapAndRead();

  // The slot swapped out last (generation - 1), when it still holds
  // anything: an interval read but not cleared, or swapped out and not
  // read, by a collector that died. Nothing when the generation is 0.
  absl::StatusOr<std::optional<Interval>> ReadPrevious();

  // Deletes an interval's flows, then clears its counters.
  absl::Status Clear(const Interval& interval);

  // SwapAndRead(), then Clear(): every packet since the previous call,
  // exactly once. On failure the slot keeps what it holds.
  absl::StatusOr<Interval> SwapAndCollect();

 private:
  absl::StatusOr<Interval> ReadSlot(uint32_t generation);

  Maps maps_;
  int num_cpus_;
};

// The wall-clock time of a kernel CLOCK_MONOTONIC timestamp such as
// first_seen_ns, using the current offset between the two clocks (which moves
// when the wall clock is stepped; coarse timestamps are one tick behind).
absl::Time KernelTimeToWallTime(uint64_t monotonic_ns);

}  // namespace weir::bpf

#endif  // WEIR_BPF_FLOW_TABLE_H_
