// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baseline for benchmarks: a TC classifier that does nothing. What
 * weir.bpf.c costs per packet is measured against this (docs/benchmarks.md).
 */
// libbpf's headers use the UAPI types: they come after them.
// clang-format off
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>
// clang-format on

SEC("tc")
int empty_tc(struct __sk_buff *skb) { return TC_ACT_UNSPEC; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
