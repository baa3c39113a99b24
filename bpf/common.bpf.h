/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What every parsing header needs: the UAPI and libbpf includes, the parse
 * state handed from layer to layer, and the one helper every header read goes
 * through (weir_header).
 *
 * Only UAPI headers from linux-libc-dev, no vmlinux.h: see bazel/bpf.bzl.
 */
#ifndef WEIR_BPF_COMMON_BPF_H_
#define WEIR_BPF_COMMON_BPF_H_

// libbpf's headers use the UAPI types: they come after them.
// clang-format off
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "weir_flow.h"

/* A parse step's verdict: WEIR_PARSE_OK, or the loss counter (enum
 * weir_counter_index) the packet is counted under. */
#define WEIR_PARSE_OK WEIR_COUNTER_SEEN

/* What one layer hands to the next. */
struct weir_parse {
  __u32 off;       /* offset of the next header from the start of the frame */
  __u32 hdr_len;   /* L2+L3+L4 header bytes, repeated in every GSO segment;
                    * set by weir_parse_l4, 0 when parsing stopped earlier */
  __be16 l3_proto; /* ethertype after the VLAN tags */
  __u8 no_l4;      /* 1 for non-first fragments: no L4 header to read */
  __u8 tcp_flags;  /* TCP header byte 13, 0 for other protocols */
};

/*
 * Headers never start beyond this offset: 14 (Ethernet) + 8 (two VLAN tags) +
 * 60 (IPv4 with options) or 40 + 6 * 2048 (IPv6, six extension headers of the
 * largest size) stays below it. It bounds the variable offset for the
 * verifier (see weir_header).
 */
#define WEIR_MAX_HEADER_OFFSET 0x3fff

/*
 * Returns a pointer to `len` bytes at `off` from the start of the frame
 * (skb->data, the Ethernet header at TC), or NULL when the frame is shorter
 * than off + len. Every header read goes through here, right before the read.
 *
 * Fast path: direct packet access when the bytes are in the linear area.
 * The verifier allows a load through a packet pointer only after the program
 * compared that pointer plus the access size against skb->data_end on the
 * same path, and it accepts a variable offset added to skb->data only when the
 * offset has a known upper bound below MAX_PACKET_OFF (0xffff). Hence the
 * explicit `off <= WEIR_MAX_HEADER_OFFSET` (which gives the offset its bound)
 * followed by the comparison of `p + len` against data_end, which the
 * verifier turns into a readable range of `len` bytes for p. data and
 * data_end are read from the context on every call, never cached: packet
 * pointers die at any helper that can change the skb, and callers must not
 * keep one across another weir_header().
 *
 * Slow path: at TC an skb may be non-linear (GRO'd or paged frames on
 * ingress, some tunnels and AF_PACKET on egress), with headers in page
 * fragments beyond data_end. Those headers are copied into `buf` with
 * bpf_skb_load_bytes, which reads fragments too. It is chosen over
 * bpf_skb_pull_data because it never modifies the skb (pull unclones and
 * reallocates the head, which is not an observer's business) and it cannot
 * fail for bytes that exist (pull can with -ENOMEM): a good packet is never
 * counted as truncated. The cost, a helper call, is paid only by the rare
 * packet whose headers are not linear.
 */
static __always_inline const void *weir_header(struct __sk_buff *skb, __u32 off,
                                               __u32 len, void *buf) {
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;

  if (off <= WEIR_MAX_HEADER_OFFSET) {
    void *p = data + off;

    if (p + len <= data_end) return p;
  }
  if (bpf_skb_load_bytes(skb, off, buf, len) < 0) return NULL;
  return buf;
}

#endif /* WEIR_BPF_COMMON_BPF_H_ */
