/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* L4: TCP and UDP ports and TCP flags, ICMP and ICMPv6 type and code. */
#ifndef WEIR_BPF_L4_BPF_H_
#define WEIR_BPF_L4_BPF_H_

#include "common.bpf.h"

/* TCP header bytes 12 (data offset << 4) and 13 (flags), without bitfields. */
#define WEIR_TCP_DOFF_BYTE 12
#define WEIR_TCP_FLAGS_BYTE 13

/*
 * Reads the L4 header at p->off for the protocols that have fields in the
 * key and sets p->hdr_len to the end of the headers (what a GSO packet
 * repeats in every segment).
 *
 * TCP (20 bytes) and UDP (8): ports, and TCP flags into p->tcp_flags; the
 * TCP header length is its data offset (options included). ICMP over IPv4
 * and ICMPv6 over IPv6 (8 bytes): type and code. Any other protocol, and
 * non-first fragments, keep ports and type/code 0 and read nothing.
 * TRUNCATED_L4: the TCP, UDP or ICMP header is cut short.
 */
static __always_inline __u32 weir_parse_l4(struct __sk_buff *skb,
                                           struct weir_parse *p,
                                           struct weir_flow_key *key) {
  __u32 off = p->off;

  if (p->no_l4) {
    p->hdr_len = off;
    return WEIR_PARSE_OK;
  }

  switch (key->protocol) {
    case IPPROTO_TCP: {
      struct tcphdr tcp_buf;
      const struct tcphdr *tcp = weir_header(skb, off, sizeof(*tcp), &tcp_buf);
      __u32 doff_len;

      if (!tcp) return WEIR_COUNTER_TRUNCATED_L4;
      key->src_port = bpf_ntohs(tcp->source);
      key->dst_port = bpf_ntohs(tcp->dest);
      p->tcp_flags = ((const __u8 *)tcp)[WEIR_TCP_FLAGS_BYTE];
      doff_len = (((const __u8 *)tcp)[WEIR_TCP_DOFF_BYTE] >> 4) * 4;
      /* A data offset below 5 is invalid; count the fixed header. */
      p->hdr_len = off + (doff_len > sizeof(*tcp) ? doff_len : sizeof(*tcp));
      return WEIR_PARSE_OK;
    }
    case IPPROTO_UDP: {
      struct udphdr udp_buf;
      const struct udphdr *udp = weir_header(skb, off, sizeof(*udp), &udp_buf);

      if (!udp) return WEIR_COUNTER_TRUNCATED_L4;
      key->src_port = bpf_ntohs(udp->source);
      key->dst_port = bpf_ntohs(udp->dest);
      p->hdr_len = off + sizeof(*udp);
      return WEIR_PARSE_OK;
    }
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6: {
      /* ICMP and ICMPv6 share the first 8 bytes' layout: type, code,
       * checksum, 4 bytes of body. (linux/icmp.h pulls in libc headers
       * through linux/if.h, so struct icmp6hdr serves both.) */
      struct icmp6hdr icmp_buf;
      const struct icmp6hdr *icmp;

      /* ICMP belongs to IPv4 and ICMPv6 to IPv6; crossed, they are
       * just other protocols. */
      if ((key->protocol == IPPROTO_ICMP) !=
          (key->ip_version == WEIR_IP_VERSION_4))
        break;
      icmp = weir_header(skb, off, sizeof(*icmp), &icmp_buf);
      if (!icmp) return WEIR_COUNTER_TRUNCATED_L4;
      key->icmp_type = icmp->icmp6_type;
      key->icmp_code = icmp->icmp6_code;
      p->hdr_len = off + sizeof(*icmp);
      return WEIR_PARSE_OK;
    }
    default:
      break;
  }
  p->hdr_len = off;
  return WEIR_PARSE_OK;
}

#endif /* WEIR_BPF_L4_BPF_H_ */
