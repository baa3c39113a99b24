/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4: header with options, fragments, addresses as IPv4-mapped IPv6. */
#ifndef WEIR_BPF_IPV4_BPF_H_
#define WEIR_BPF_IPV4_BPF_H_

#include "common.bpf.h"

/* frag_off bits (include/net/ip.h is not UAPI). */
#define WEIR_IP_MF 0x2000     /* more fragments */
#define WEIR_IP_OFFSET 0x1fff /* fragment offset, in 8-byte units */

/*
 * Reads the IPv4 header at p->off into the key (version, protocol,
 * addresses, fragment flag) and moves p->off past the header and its options.
 *
 * BAD_IPV4_HEADER: fewer than 20 bytes, version != 4, IHL < 5, or a header
 * (with options) or total length that does not fit the frame. A total length
 * of 0 is accepted: BIG TCP GSO packets over 64 KiB carry 0 there.
 * A non-first fragment (offset != 0) carries no L4 header: it is a flow with
 * the fragment flag, its protocol, and ports 0. A first fragment (offset 0,
 * MF set) is parsed like a whole datagram.
 */
static __always_inline __u32 weir_parse_ipv4(struct __sk_buff *skb,
                                             struct weir_parse *p,
                                             struct weir_flow_key *key) {
  struct iphdr ip_buf;
  const struct iphdr *ip = weir_header(skb, p->off, sizeof(*ip), &ip_buf);
  __u32 avail, ihl_len, tot_len;

  if (!ip) return WEIR_COUNTER_BAD_IPV4_HEADER;
  if (ip->version != 4 || ip->ihl < 5) return WEIR_COUNTER_BAD_IPV4_HEADER;
  ihl_len = ip->ihl * 4;
  tot_len = bpf_ntohs(ip->tot_len);
  avail = skb->len - p->off;
  if (tot_len ? (tot_len < ihl_len || tot_len > avail) : ihl_len > avail)
    return WEIR_COUNTER_BAD_IPV4_HEADER;

  key->ip_version = WEIR_IP_VERSION_4;
  key->protocol = ip->protocol;
  key->src_addr[2] = bpf_htonl(0x0000ffff);
  key->src_addr[3] = ip->saddr;
  key->dst_addr[2] = bpf_htonl(0x0000ffff);
  key->dst_addr[3] = ip->daddr;
  if (ip->frag_off & bpf_htons(WEIR_IP_OFFSET)) {
    key->flags |= WEIR_FLOW_F_FRAGMENT;
    p->no_l4 = 1;
  }
  p->off += ihl_len;
  return WEIR_PARSE_OK;
}

#endif /* WEIR_BPF_IPV4_BPF_H_ */
