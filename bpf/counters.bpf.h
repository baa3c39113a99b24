/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The per-CPU counter array: packets and bytes seen, and per loss reason. */
#ifndef WEIR_BPF_COUNTERS_BPF_H_
#define WEIR_BPF_COUNTERS_BPF_H_

#include "common.bpf.h"

/* Index: slot * WEIR_COUNTER_MAX + enum weir_counter_index (weir_flow.h).
 * User space sums the CPUs. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, WEIR_FLOW_SLOTS *WEIR_COUNTER_MAX);
  __type(key, __u32);
  __type(value, struct weir_counter);
} weir_counters SEC(".maps");

/*
 * Adds a packet to one counter. Plain adds, no atomics: the value is this
 * CPU's, and TC programs run with bottom halves disabled, so no other
 * program on this CPU can interleave with the update.
 */
static __always_inline void weir_count(__u32 slot, __u32 index, __u64 packets,
                                       __u64 bytes) {
  __u32 key = (slot & 1) * WEIR_COUNTER_MAX + index;
  struct weir_counter *c = bpf_map_lookup_elem(&weir_counters, &key);

  if (c) {
    c->packets += packets;
    c->bytes += bytes;
  }
}

#endif /* WEIR_BPF_COUNTERS_BPF_H_ */
