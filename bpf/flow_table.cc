#include "bpf/flow_table.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_util.h"

namespace weir::bpf {
namespace {

// Keys per bpf_map_lookup_batch call. A hash map returns whole buckets, so a
// bucket larger than this makes the call fail with ENOSPC; the batch then
// doubles.
constexpr uint32_t kInitialBatch = 1024;

// Folds one CPU's value into the merged one.
void MergeCpuValue(const weir_flow_value& cpu, weir_flow_value& merged) {
  merged.packets += cpu.packets;
  merged.bytes += cpu.bytes;
  // Only the CPU that created the entry sets first_seen_ns; the others keep 0.
  if (cpu.first_seen_ns != 0 &&
      (merged.first_seen_ns == 0 || cpu.first_seen_ns < merged.first_seen_ns)) {
    merged.first_seen_ns = cpu.first_seen_ns;
  }
  merged.last_seen_ns = std::max(merged.last_seen_ns, cpu.last_seen_ns);
  merged.tcp_flags |= cpu.tcp_flags;
}

}  // namespace

FlowTable::FlowTable(const Maps& maps)
    : maps_(maps), num_cpus_(libbpf_num_possible_cpus()) {}

FlowTable::FlowTable(const Skeleton& skeleton)
    : FlowTable(Maps{skeleton.flow_slots_fd(),
                     skeleton.active_slot_fd(),
                     {skeleton.flow_map_fd(0), skeleton.flow_map_fd(1)},
                     skeleton.counters_fd()}) {}

absl::StatusOr<uint32_t> FlowTable::Generation() const {
  const __u32 zero = 0;
  __u32 generation = 0;
  if (int err = bpf_map_lookup_elem(maps_.active_slot_fd, &zero, &generation);
      err != 0) {
    return LibbpfFailure(err, "weir_active_slot: read");
  }
  return generation;
}

absl::StatusOr<uint32_t> FlowTable::ActiveSlot() const {
  WEIR_ASSIGN_OR_RETURN(uint32_t generation, Generation());
  return generation % WEIR_FLOW_SLOTS;
}

absl::StatusOr<uint32_t> FlowTable::Swap() {
  WEIR_ASSIGN_OR_RETURN(uint32_t generation, SwapGeneration());
  return generation % WEIR_FLOW_SLOTS;
}

absl::StatusOr<uint32_t> FlowTable::SwapGeneration() {
  WEIR_ASSIGN_OR_RETURN(uint32_t generation, Generation());
  static_assert(WEIR_FLOW_SLOTS == 2,
                "generations wrap at 2^32, which must keep the slots in turn");
  const __u32 old = generation % WEIR_FLOW_SLOTS;
  const __u32 next = generation + 1;  // wraps
  const __u32 zero = 0;
  if (int err =
          bpf_map_update_elem(maps_.active_slot_fd, &zero, &next, BPF_ANY);
      err != 0) {
    return LibbpfFailure(err, absl::StrCat("weir_active_slot: switch to slot ",
                                           next % WEIR_FLOW_SLOTS));
  }
  // Updating an ARRAY does not wait for running programs; updating a
  // map-in-map does (synchronize_rcu in maybe_wait_bpf_programs). Putting
  // the old slot's own map back changes nothing for the datapath, and when
  // it returns every program that could have read the old index is done.
  const int old_fd = maps_.flow_map_fds[old];
  if (int err =
          bpf_map_update_elem(maps_.flow_slots_fd, &old, &old_fd, BPF_ANY);
      err != 0) {
    return LibbpfFailure(err,
                         absl::StrCat("weir_flow_slots: re-install slot ", old,
                                      " to wait for running programs"));
  }
  return generation;
}

absl::StatusOr<std::vector<FlowEntry>> FlowTable::Read(uint32_t slot) {
  if (slot >= WEIR_FLOW_SLOTS || maps_.flow_map_fds[slot] < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot: ", slot, " is not a flow map slot"));
  }
  if (num_cpus_ <= 0) return LibbpfFailure(num_cpus_, "count possible CPUs");
  absl::StatusOr<uint32_t> active = ActiveSlot();
  if (!active.ok()) return active.status();
  if (*active == slot) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", slot, " is active; Swap() before draining it"));
  }

  const int fd = maps_.flow_map_fds[slot];
  const size_t cpus = static_cast<size_t>(num_cpus_);
  // Per-CPU values come as one value per possible CPU, each rounded up to 8
  // bytes (weir_flow_value already is).
  static_assert(sizeof(weir_flow_value) % 8 == 0, "per-CPU value stride");

  uint32_t batch = kInitialBatch;
  std::vector<weir_flow_key> keys(batch);
  std::vector<weir_flow_value> values(batch * cpus);
  std::vector<FlowEntry> flows;
  bpf_map_batch_opts opts = {};
  opts.sz = sizeof(opts);

  // Hash-map batch tokens are bucket indexes (u32); 8 bytes leave room.
  uint64_t in_token = 0;
  uint64_t out_token = 0;
  bool first = true;
  for (;;) {
    __u32 count = batch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_token, &out_token,
                                   keys.data(), values.data(), &count, &opts);
    if (err == -ENOSPC && count == 0) {
      // One bucket holds more keys than fit: retry the same position larger.
      if (batch > std::numeric_limits<uint32_t>::max() / 2) {
        return LibbpfFailure(err, "weir flow map: read batch");
      }
      batch *= 2;
      keys.resize(batch);
      values.resize(batch * cpus);
      continue;
    }
    // ENOENT: the end of the map, possibly with a last chunk of entries.
    if (err != 0 && err != -ENOENT) {
      return LibbpfFailure(
          err, absl::StrCat("weir flow map slot ", slot, ": read batch after ",
                            flows.size(), " flows"));
    }
    for (__u32 i = 0; i < count; ++i) {
      FlowEntry entry = {};
      entry.key = keys[i];
      for (size_t cpu = 0; cpu < cpus; ++cpu)
        MergeCpuValue(values[i * cpus + cpu], entry.value);
      flows.push_back(entry);
    }
    if (err == -ENOENT) break;
    in_token = out_token;
    first = false;
  }

  // Drop merged entries that hold nothing (cannot happen: every entry is
  // created with its first packet; kept cheap and defensive).
  flows.erase(
      std::remove_if(flows.begin(), flows.end(),
                     [](const FlowEntry& f) { return f.value.packets == 0; }),
      flows.end());
  return flows;
}

absl::Status FlowTable::Delete(uint32_t slot,
                               const std::vector<FlowEntry>& flows) {
  if (slot >= WEIR_FLOW_SLOTS || maps_.flow_map_fds[slot] < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("slot: ", slot, " is not a flow map slot"));
  }
  const int fd = maps_.flow_map_fds[slot];
  bpf_map_batch_opts opts = {};
  opts.sz = sizeof(opts);
  std::vector<weir_flow_key> all_keys;
  all_keys.reserve(flows.size());
  for (const FlowEntry& flow : flows) all_keys.push_back(flow.key);
  size_t deleted = 0;
  while (deleted < all_keys.size()) {
    __u32 count = static_cast<__u32>(
        std::min<size_t>(all_keys.size() - deleted, 1u << 16));
    const __u32 wanted = count;
    int err = bpf_map_delete_batch(fd, &all_keys[deleted], &count, &opts);
    deleted += count;
    if (err != 0 || count != wanted) {
      return LibbpfFailure(
          err != 0 ? err : -EIO,
          absl::StrCat("weir flow map slot ", slot, ": clear (deleted ",
                       deleted, " of ", all_keys.size(), " flows)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FlowEntry>> FlowTable::Drain(uint32_t slot) {
  // Deleted only after everything was read: an error leaves the map whole
  // for the next attempt.
  WEIR_ASSIGN_OR_RETURN(std::vector<FlowEntry> flows, Read(slot));
  WEIR_RETURN_IF_ERROR(Delete(slot, flows));
  return flows;
}

absl::StatusOr<std::vector<FlowEntry>> FlowTable::SwapAndDrain() {
  WEIR_ASSIGN_OR_RETURN(uint32_t old, Swap());
  return Drain(old);
}

absl::StatusOr<FlowTable::Interval> FlowTable::ReadSlot(uint32_t generation) {
  Interval interval;
  interval.generation = generation;
  interval.slot = generation % WEIR_FLOW_SLOTS;
  WEIR_ASSIGN_OR_RETURN(interval.flows, Read(interval.slot));
  WEIR_ASSIGN_OR_RETURN(interval.counters,
                        ReadCounters(maps_.counters_fd, interval.slot));
  return interval;
}

absl::StatusOr<FlowTable::Interval> FlowTable::SwapAndRead() {
  WEIR_ASSIGN_OR_RETURN(uint32_t generation, SwapGeneration());
  return ReadSlot(generation);
}

absl::StatusOr<std::optional<FlowTable::Interval>> FlowTable::ReadPrevious() {
  WEIR_ASSIGN_OR_RETURN(uint32_t generation, Generation());
  if (generation == 0) return std::nullopt;  // no slot was ever swapped out
  WEIR_ASSIGN_OR_RETURN(Interval interval, ReadSlot(generation - 1));
  if (interval.flows.empty() && interval.counters.seen().packets == 0) {
    return std::nullopt;
  }
  return interval;
}

absl::Status FlowTable::Clear(const Interval& interval) {
  WEIR_RETURN_IF_ERROR(Delete(interval.slot, interval.flows));
  // The counters last: while they hold the interval, a restart still sees
  // that the slot was not cleared.
  return ClearCounters(maps_.counters_fd, interval.slot);
}

absl::StatusOr<FlowTable::Interval> FlowTable::SwapAndCollect() {
  WEIR_ASSIGN_OR_RETURN(Interval interval, SwapAndRead());
  WEIR_RETURN_IF_ERROR(Clear(interval));
  return interval;
}

absl::Time KernelTimeToWallTime(uint64_t monotonic_ns) {
  struct timespec mono;
  struct timespec real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const absl::Duration offset =
      absl::DurationFromTimespec(real) - absl::DurationFromTimespec(mono);
  return absl::UnixEpoch() +
         absl::Nanoseconds(static_cast<int64_t>(monotonic_ns)) + offset;
}

}  // namespace weir::bpf
