/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: two per-CPU hash maps behind a two-slot map-in-map, and
 * the index of the slot packets go to.
 *
 * Swap protocol (docs/design.md §2; user space: flow_table.cc): the collector
 * writes the other slot's index into weir_active_slot, then updates the
 * now-inactive slot of weir_flow_slots (re-installing the same map). Only an
 * update of a map-in-map makes the kernel wait for every running program
 * (maybe_wait_bpf_programs: synchronize_rcu), so when that update returns no
 * program still holds a pointer to the old map, which can then be read and
 * cleared without racing the datapath. Writing the index alone would not wait.
 */
#ifndef WEIR_BPF_MAPS_BPF_H_
#define WEIR_BPF_MAPS_BPF_H_

#include "common.bpf.h"
#include "counters.bpf.h"

/*
 * The inner map type, named so that it can be both one real map and the
 * outer map's value type (libbpf 1.1 creates the outer map's inner-map
 * template from it). User space sets weir_flows_0's max_entries before load
 * and creates the second inner map from its info after. Preallocated: an update
 * never allocates, and a full map fails with -E2BIG.
 */
struct weir_flow_map {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, WEIR_DEFAULT_FLOW_ENTRIES);
  __type(key, struct weir_flow_key);
  __type(value, struct weir_flow_value);
};

/* Slot 0's map; slot 1's is created by user space (skeleton.cc). */
struct weir_flow_map weir_flows_0 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, WEIR_FLOW_SLOTS);
  __type(key, __u32);
  __array(values, struct weir_flow_map);
} weir_flow_slots SEC(".maps") = {
    .values = {[0] = &weir_flows_0},
};

/* Element 0: a generation the collector adds one to at each swap; its bit 0
 * is the slot of weir_flow_slots packets are added to. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} weir_active_slot SEC(".maps");

/* Adds a packet to this CPU's value of an existing entry. first_seen_ns is
 * left alone: the CPU that created the entry set it, the others keep 0. */
static __always_inline void weir_flow_merge(struct weir_flow_value *into,
                                            __u64 packets, __u64 bytes,
                                            __u8 tcp_flags, __u64 now) {
  into->packets += packets;
  into->bytes += bytes;
  into->last_seen_ns = now;
  into->tcp_flags |= tcp_flags;
}

/* The slot packets go to now (0 when the array cannot be read, which an
 * ARRAY of one element never fails). Read once per packet: the flow and
 * its counters then land in the same slot. */
static __always_inline __u32 weir_active(void) {
  __u32 zero = 0;
  __u32 *slot = bpf_map_lookup_elem(&weir_active_slot, &zero);

  return slot ? (*slot & 1) : 0;
}

/*
 * Adds one packet (packets/bytes after GSO expansion) to its flow in the
 * flow map of `slot`. Returns WEIR_PARSE_OK, NO_FLOW_MAP when the active slot
 * holds no map, or MAP_FULL when a new flow does not fit.
 *
 * The outer map is looked up once and that inner map is used for the whole
 * update, so a swap cannot split one packet across two maps.
 */
static __always_inline __u32 weir_flow_add(__u32 slot,
                                           const struct weir_flow_key *key,
                                           __u64 packets, __u64 bytes,
                                           __u8 tcp_flags) {
  struct weir_flow_value *value;
  void *flows;
  __u64 now;
  long err;

  flows = bpf_map_lookup_elem(&weir_flow_slots, &slot);
  if (!flows) return WEIR_COUNTER_NO_FLOW_MAP;

  /* The coarse clock is a tick-granular CLOCK_MONOTONIC read, far cheaper
   * than bpf_ktime_get_ns; allowed for every program type since 5.11. */
  now = bpf_ktime_get_coarse_ns();
  value = bpf_map_lookup_elem(flows, key);
  if (value) {
    weir_flow_merge(value, packets, bytes, tcp_flags, now);
    return WEIR_PARSE_OK;
  }

  {
    /* On a per-CPU hash, the value goes to this CPU; the other
     * CPUs' copies start zeroed (first_seen_ns 0 included). */
    struct weir_flow_value init = {
        .packets = packets,
        .bytes = bytes,
        .first_seen_ns = now,
        .last_seen_ns = now,
        .tcp_flags = tcp_flags,
    };

    err = bpf_map_update_elem(flows, key, &init, BPF_NOEXIST);
  }
  if (err == 0) return WEIR_PARSE_OK;
  if (err == -EEXIST) {
    /* Another CPU added the flow since our lookup. */
    value = bpf_map_lookup_elem(flows, key);
    if (value) {
      weir_flow_merge(value, packets, bytes, tcp_flags, now);
      return WEIR_PARSE_OK;
    }
  }
  /* -E2BIG when full; any other failure also leaves the packet out of
   * every flow and is counted here, so none goes unaccounted. */
  return WEIR_COUNTER_MAP_FULL;
}

#endif /* WEIR_BPF_MAPS_BPF_H_ */
