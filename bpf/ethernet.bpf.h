/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet and up to WEIR_MAX_VLAN_TAGS VLAN tags (802.1Q, 802.1ad). */
#ifndef WEIR_BPF_ETHERNET_BPF_H_
#define WEIR_BPF_ETHERNET_BPF_H_

#include "common.bpf.h"

/* A VLAN tag after the MAC addresses (struct vlan_hdr is not UAPI). */
struct weir_vlan_hdr {
  __be16 tci;
  __be16 encapsulated_proto;
};

static __always_inline int weir_is_vlan(__be16 proto) {
  return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/*
 * Reads the Ethernet header and the VLAN tags in the frame; sets
 * p->l3_proto and p->off (start of the L3 header).
 *
 * A tag the NIC or the stack took out of the frame (skb->vlan_present) is not
 * in the data and needs no parsing. More tags in the frame than parsed is
 * TRUNCATED_VLAN: the L3 header behind them is not read.
 */
static __always_inline __u32 weir_parse_ethernet(struct __sk_buff *skb,
                                                 struct weir_parse *p) {
  struct ethhdr eth_buf;
  const struct ethhdr *eth = weir_header(skb, 0, sizeof(*eth), &eth_buf);
  __be16 proto;
  __u32 off = sizeof(struct ethhdr);

  if (!eth) return WEIR_COUNTER_TRUNCATED_ETHERNET;
  proto = eth->h_proto;

#pragma unroll
  for (int i = 0; i < WEIR_MAX_VLAN_TAGS; i++) {
    struct weir_vlan_hdr vlan_buf;
    const struct weir_vlan_hdr *vlan;

    if (!weir_is_vlan(proto)) break;
    vlan = weir_header(skb, off, sizeof(*vlan), &vlan_buf);
    if (!vlan) return WEIR_COUNTER_TRUNCATED_VLAN;
    proto = vlan->encapsulated_proto;
    off += sizeof(*vlan);
  }
  if (weir_is_vlan(proto)) return WEIR_COUNTER_TRUNCATED_VLAN;

  p->l3_proto = proto;
  p->off = off;
  return WEIR_PARSE_OK;
}

#endif /* WEIR_BPF_ETHERNET_BPF_H_ */
