/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the kernel program and user space share: the flow key and value of the
 * flow maps, the per-CPU counters and their indexes, and the map sizes.
 *
 * Plain C with __u32-style types only, included by weir.bpf.c and by C++.
 * Every number and layout here crosses the kernel/user boundary, and several
 * are mapped one to one onto proto/weir/v1/flow.proto: they are pinned. Never
 * renumber or reorder; only add at the end, and bump nothing silently.
 */
#ifndef WEIR_BPF_WEIR_FLOW_H_
#define WEIR_BPF_WEIR_FLOW_H_

#include <linux/types.h>

/* C11 spells it _Static_assert, C++ static_assert; the layouts are checked in
 * both. */
#ifdef __cplusplus
#define WEIR_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define WEIR_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Which way the packet crossed the interface. Pinned: = weir.v1.Direction. */
enum weir_direction {
  WEIR_DIRECTION_INGRESS = 1, /* DIRECTION_INGRESS */
  WEIR_DIRECTION_EGRESS = 2,  /* DIRECTION_EGRESS */
};

/* weir_flow_key.ip_version. Pinned: = weir.v1.IpVersion. */
#define WEIR_IP_VERSION_4 4
#define WEIR_IP_VERSION_6 6

/* weir_flow_key.flags bits. Pinned. */
/* A non-first IPv4 or IPv6 fragment: no L4 header, ports and ICMP type/code 0.
 * = weir.v1.FlowKey.fragment. */
#define WEIR_FLOW_F_FRAGMENT 0x01

/*
 * The identity of a flow: the key of the flow maps. 48 bytes, no implicit
 * padding (the kernel hashes and compares all of it, so every byte must be
 * written: `pad` is always 0).
 */
struct weir_flow_key {
  __u32 ifindex;     /*  0: skb->ifindex, the interface the hook is on */
  __u8 direction;    /*  4: enum weir_direction */
  __u8 ip_version;   /*  5: WEIR_IP_VERSION_4 or _6 */
  __u8 protocol;     /*  6: IANA number of the upper-layer protocol (after
                      *     IPv6 extension headers) */
  __u8 flags;        /*  7: WEIR_FLOW_F_* */
  __u32 src_addr[4]; /*  8: network byte order; IPv4 as IPv4-mapped IPv6
                      *     (::ffff:a.b.c.d) */
  __u32 dst_addr[4]; /* 24: same */
  __u16 src_port;    /* 40: host byte order; TCP and UDP only, else 0 */
  __u16 dst_port;    /* 42: same */
  __u8 icmp_type;    /* 44: ICMP (IPv4) and ICMPv6 only, else 0 */
  __u8 icmp_code;    /* 45: same */
  __u16 pad;         /* 46: always 0 */
};

WEIR_STATIC_ASSERT(sizeof(struct weir_flow_key) == 48,
                   "weir_flow_key layout is pinned");

/*
 * What a flow map holds per CPU for one key. User space sums packets and
 * bytes, takes the smallest non-zero first_seen_ns (only the CPU that created
 * the entry sets it; the others keep 0) and the largest last_seen_ns, and ORs
 * tcp_flags.
 */
struct weir_flow_value {
  __u64 packets;       /*  0: wire packets (a GSO packet counts per segment) */
  __u64 bytes;         /*  8: wire bytes from the Ethernet header on, no FCS;
                        *     headers repeated per GSO segment included */
  __u64 first_seen_ns; /* 16: bpf_ktime_get_coarse_ns(): CLOCK_MONOTONIC,
                        *     coarse (tick) resolution */
  __u64 last_seen_ns;  /* 24: same clock */
  __u32 tcp_flags;     /* 32: OR of TCP header byte 13 (FIN 0x01 .. CWR 0x80) */
  __u32 pad;           /* 36: always 0 */
};

WEIR_STATIC_ASSERT(sizeof(struct weir_flow_value) == 40,
                   "weir_flow_value layout is pinned");

/*
 * Indexes of the per-CPU counter array (weir_counters). Pinned.
 *
 * The array holds one set of counters per flow slot: the counter of index i
 * for slot s is at s * WEIR_COUNTER_MAX + i. A packet counts in the set of
 * the slot its flow went to, so after a swap the old slot's flows and
 * counters are quiescent together and reconcile exactly per interval.
 *
 * Index 0 counts every packet the program saw. Every other index is a loss
 * reason and has the number of the weir.v1.LossReason it is reported as
 * (LOSS_REASON_UNSPECIFIED = 0 is never counted, so its index is free for
 * "seen"). Every packet seen is in exactly one flow or under exactly one loss
 * reason, in packets and in bytes:
 *   counters[SEEN] == sum(flows) + sum(counters[1 .. WEIR_COUNTER_MAX - 1]).
 * Reasons 10 and up (unacked bound, spool full) are the collector's own.
 */
enum weir_counter_index {
  WEIR_COUNTER_SEEN = 0,                 /* packets/bytes seen, all packets */
  WEIR_COUNTER_NON_IP = 1,               /* LOSS_REASON_NON_IP */
  WEIR_COUNTER_TRUNCATED_ETHERNET = 2,   /* LOSS_REASON_TRUNCATED_ETHERNET */
  WEIR_COUNTER_TRUNCATED_VLAN = 3,       /* LOSS_REASON_TRUNCATED_VLAN */
  WEIR_COUNTER_BAD_IPV4_HEADER = 4,      /* LOSS_REASON_BAD_IPV4_HEADER */
  WEIR_COUNTER_BAD_IPV6_HEADER = 5,      /* LOSS_REASON_BAD_IPV6_HEADER */
  WEIR_COUNTER_IPV6_EXTENSION_LIMIT = 6, /* LOSS_REASON_IPV6_EXTENSION_LIMIT */
  WEIR_COUNTER_TRUNCATED_L4 = 7,         /* LOSS_REASON_TRUNCATED_L4 */
  WEIR_COUNTER_MAP_FULL = 8,             /* LOSS_REASON_MAP_FULL */
  WEIR_COUNTER_NO_FLOW_MAP = 9,          /* LOSS_REASON_NO_FLOW_MAP */
  WEIR_COUNTER_MAX = 10,                 /* number of counters; not an index */
};

/* One counter, per CPU: packets and bytes counted the same way as flows. */
struct weir_counter {
  __u64 packets;
  __u64 bytes;
};

WEIR_STATIC_ASSERT(sizeof(struct weir_counter) == 16,
                   "weir_counter layout is pinned");

/* Slots of the flow map-in-map (weir_flow_slots). */
#define WEIR_FLOW_SLOTS 2

/* Default capacity of each flow map; user space sets its own before load. */
#define WEIR_DEFAULT_FLOW_ENTRIES 65536

/* VLAN tags (802.1Q, 802.1ad) parsed before the L3 header. Fixed. */
#define WEIR_MAX_VLAN_TAGS 2

/* IPv6 extension headers followed before giving up with
 * WEIR_COUNTER_IPV6_EXTENSION_LIMIT. Fixed. */
#define WEIR_MAX_IPV6_EXT_HEADERS 6

#endif /* WEIR_BPF_WEIR_FLOW_H_ */
