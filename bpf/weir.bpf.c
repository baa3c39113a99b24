// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weir's kernel side: a TC classifier for ingress and one for egress that
 * add every packet to its flow in a per-CPU flow map, or count why they could
 * not. An observer: it never drops, redirects or rewrites, and always returns
 * TC_ACT_UNSPEC so the filters after it still run.
 *
 * Per packet: parse Ethernet (+ up to two VLAN tags), IPv4 or IPv6 (+
 * extension headers), L4 ports/flags/type; compute wire packets and bytes;
 * add them to the flow (maps.bpf.h) or to the loss counter the parse
 * returned; add them to "seen". So, exactly and always:
 *   seen == sum of flows + sum of loss counters   (packets and bytes).
 */
#include "common.bpf.h"
#include "counters.bpf.h"
#include "ethernet.bpf.h"
#include "ipv4.bpf.h"
#include "ipv6.bpf.h"
#include "l4.bpf.h"
#include "maps.bpf.h"

/*
 * Configuration, set by user space through skel->rodata between open and
 * load; the verifier sees the values as constants and prunes dead branches.
 */

/* Count a GSO/TSO/GRO packet as its wire segments: max(1, gso_segs) packets,
 * and its L2+L3+L4 headers once more per extra segment. Off: one skb is one
 * packet of skb->len bytes. */
const volatile __u8 weir_gso_accounting = 1;

/* Parses the frame into key; returns WEIR_PARSE_OK or a loss counter. */
static __always_inline __u32 weir_parse_packet(struct __sk_buff *skb,
                                               struct weir_parse *p,
                                               struct weir_flow_key *key) {
  __u32 verdict = weir_parse_ethernet(skb, p);

  if (verdict != WEIR_PARSE_OK) return verdict;
  if (p->l3_proto == bpf_htons(ETH_P_IP))
    verdict = weir_parse_ipv4(skb, p, key);
  else if (p->l3_proto == bpf_htons(ETH_P_IPV6))
    verdict = weir_parse_ipv6(skb, p, key);
  else
    return WEIR_COUNTER_NON_IP;
  if (verdict != WEIR_PARSE_OK) return verdict;
  return weir_parse_l4(skb, p, key);
}

static __always_inline int weir_observe(struct __sk_buff *skb, __u8 direction) {
  struct weir_flow_key key = {};
  struct weir_parse p = {};
  __u32 verdict = weir_parse_packet(skb, &p, &key);
  const __u32 slot = weir_active();
  /* skb->len: from the Ethernet header (at TC ingress the stack has put
   * it back in front of data) to the end, no FCS. */
  __u64 packets = 1;
  __u64 bytes = skb->len;

  if (weir_gso_accounting && skb->gso_size) {
    /* Only a GSO skb (gso_size != 0) has meaningful gso_segs; TCP
     * sets gso_segs = 1 on ordinary skbs too. hdr_len is 0 when
     * the headers did not parse: nothing known to repeat. */
    __u32 segs = skb->gso_segs;

    if (segs > 1) {
      packets = segs;
      bytes += (__u64)(segs - 1) * p.hdr_len;
    }
  }

  if (verdict == WEIR_PARSE_OK) {
    key.ifindex = skb->ifindex;
    key.direction = direction;
    verdict = weir_flow_add(slot, &key, packets, bytes, p.tcp_flags);
  }
  weir_count(slot, WEIR_COUNTER_SEEN, packets, bytes);
  if (verdict != WEIR_PARSE_OK) weir_count(slot, verdict, packets, bytes);
  return TC_ACT_UNSPEC;
}

SEC("tc")
int weir_ingress(struct __sk_buff *skb) {
  return weir_observe(skb, WEIR_DIRECTION_INGRESS);
}

SEC("tc")
int weir_egress(struct __sk_buff *skb) {
  return weir_observe(skb, WEIR_DIRECTION_EGRESS);
}

/* GPL-compatible, so GPL-only helpers and kfuncs stay available (bpf_printk
 * while debugging, most kfuncs); the helpers used today take any license. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";
