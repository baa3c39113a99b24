/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The event event_per_packet.bpf.c writes for every packet and
 * event_per_packet.cc reads (plain C, UAPI types only: shared by the kernel
 * program and user space).
 */
#ifndef WEIR_TOOLS_BENCHMARKS_EVENT_PER_PACKET_H_
#define WEIR_TOOLS_BENCHMARKS_EVENT_PER_PACKET_H_

#include <linux/types.h>

/* The ring: 4 MiB, room for ~100 k events. */
#define EPP_RING_BYTES (4 * 1024 * 1024)

struct epp_event {
  __u64 time_ns;
  __u32 src_addr; /* network order */
  __u32 dst_addr;
  __u32 bytes;
  __u32 ifindex;
  __u16 src_port; /* host order */
  __u16 dst_port;
  __u16 ethertype;
  __u8 protocol;
  __u8 pad;
};

#endif /* WEIR_TOOLS_BENCHMARKS_EVENT_PER_PACKET_H_ */
