// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A harness that makes BPF_PROG_TEST_RUN time new flows (kernel_new_flow.cc).
 *
 * BPF_PROG_TEST_RUN runs one frame `repeat` times, so a program under test
 * sees one flow: after the first repeat it only ever takes the existing-flow
 * path. This program runs first on every repeat, writes a 16-bit value into
 * the frame (user space points it at the TCP source port) and tail-calls the
 * program in slot 0 of bench_target (weir.bpf.c or the empty program). The
 * value advances by `step` per repeat: step 1 makes every repeat a new flow,
 * step 0 keeps one flow. The harness's own work (the store, the tail call) is
 * the same whichever program is in the slot, so differences between slots
 * are the programs' own costs.
 */
// libbpf's headers use the UAPI types: they come after them.
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>
// clang-format on

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} bench_target SEC(".maps");

/* Set by user space between runs (skel->data). */
__u32 field_offset = 34; /* TCP source port of an untagged IPv4 frame */
__u32 step = 1;
__u32 next_value = 1; /* non-zero: .data, like the others */

/* Returned when the tail call did not happen (so user space can tell). */
#define HARNESS_TAIL_CALL_FAILED 77

SEC("tc")
int new_flow_harness(struct __sk_buff *skb) {
  __u16 value = (__u16)next_value;

  next_value += step;
  bpf_skb_store_bytes(skb, field_offset, &value, sizeof(value), 0);
  bpf_tail_call(skb, &bench_target, 0);
  return HARNESS_TAIL_CALL_FAILED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
