/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv6: fixed header and up to WEIR_MAX_IPV6_EXT_HEADERS extension headers. */
#ifndef WEIR_BPF_IPV6_BPF_H_
#define WEIR_BPF_IPV6_BPF_H_

#include "common.bpf.h"

/*
 * The first 8 bytes of any extension header: next header and length are
 * common to all; frag_off is meaningful in the fragment header only, whose
 * length byte is reserved and which is always 8 bytes long (struct frag_hdr
 * is not UAPI).
 */
struct weir_ipv6_ext_hdr {
  __u8 nexthdr;
  __u8 hdrlen; /* in 8-byte units after the first 8 (AH: 4-byte units after the
                  first 8) */
  __be16 frag_off; /* fragment header: offset << 3 | M */
  __be32 rest;
};

/* frag_off bits. */
#define WEIR_IP6_OFFSET 0xfff8

/* Mobility, HIP and Shim6 headers (RFC 6275, 7401, 5533) have the generic
 * extension header layout; linux/in6.h names only IPPROTO_MH. */
#define WEIR_IPPROTO_HIP 139
#define WEIR_IPPROTO_SHIM6 140

/* Whether nexthdr names an extension header rather than an upper layer. */
static __always_inline int weir_is_ipv6_ext(__u8 nexthdr) {
  switch (nexthdr) {
    case IPPROTO_HOPOPTS:
    case IPPROTO_ROUTING:
    case IPPROTO_FRAGMENT:
    case IPPROTO_DSTOPTS:
    case IPPROTO_AH:
    case IPPROTO_MH:
    case WEIR_IPPROTO_HIP:
    case WEIR_IPPROTO_SHIM6:
      return 1;
    default:
      return 0;
  }
}

/*
 * Reads the IPv6 header at p->off into the key, follows the extension
 * headers (hop-by-hop, routing, fragment, destination options, AH, mobility,
 * HIP, Shim6) and leaves p->off at the upper-layer header, whose number
 * becomes key->protocol. ESP and "no next header" end the chain like any
 * upper layer: ports 0.
 *
 * BAD_IPV6_HEADER: fewer than 40 bytes or version != 6. The payload length
 * is not checked (0 for jumbograms and BIG TCP).
 * IPV6_EXTENSION_LIMIT: more than WEIR_MAX_IPV6_EXT_HEADERS extension headers,
 * or one cut short by the end of the frame.
 * A non-first fragment (offset != 0) ends the chain: fragment flag, the
 * fragment header's next header as protocol, no L4 header.
 */
static __always_inline __u32 weir_parse_ipv6(struct __sk_buff *skb,
                                             struct weir_parse *p,
                                             struct weir_flow_key *key) {
  struct ipv6hdr ip6_buf;
  const struct ipv6hdr *ip6 = weir_header(skb, p->off, sizeof(*ip6), &ip6_buf);
  __u32 off;
  __u8 nexthdr;

  if (!ip6) return WEIR_COUNTER_BAD_IPV6_HEADER;
  if (ip6->version != 6) return WEIR_COUNTER_BAD_IPV6_HEADER;

  key->ip_version = WEIR_IP_VERSION_6;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    key->src_addr[i] = ip6->saddr.in6_u.u6_addr32[i];
    key->dst_addr[i] = ip6->daddr.in6_u.u6_addr32[i];
  }
  nexthdr = ip6->nexthdr;
  off = p->off + sizeof(*ip6);

#pragma unroll
  for (int i = 0; i < WEIR_MAX_IPV6_EXT_HEADERS; i++) {
    struct weir_ipv6_ext_hdr ext_buf;
    const struct weir_ipv6_ext_hdr *ext;
    __u32 ext_len;

    if (!weir_is_ipv6_ext(nexthdr)) break;
    ext = weir_header(skb, off, sizeof(*ext), &ext_buf);
    if (!ext) return WEIR_COUNTER_IPV6_EXTENSION_LIMIT;
    if (nexthdr == IPPROTO_FRAGMENT) {
      if (ext->frag_off & bpf_htons(WEIR_IP6_OFFSET)) {
        key->flags |= WEIR_FLOW_F_FRAGMENT;
        key->protocol = ext->nexthdr;
        p->no_l4 = 1;
        p->off = off + sizeof(*ext);
        return WEIR_PARSE_OK;
      }
      ext_len = sizeof(*ext);
    } else if (nexthdr == IPPROTO_AH) {
      ext_len = ((__u32)ext->hdrlen + 2) * 4; /* RFC 4302 */
    } else {
      ext_len = ((__u32)ext->hdrlen + 1) * 8; /* RFC 8200 */
    }
    nexthdr = ext->nexthdr;
    off += ext_len;
    if (off > skb->len) return WEIR_COUNTER_IPV6_EXTENSION_LIMIT;
  }
  if (weir_is_ipv6_ext(nexthdr)) return WEIR_COUNTER_IPV6_EXTENSION_LIMIT;

  key->protocol = nexthdr;
  p->off = off;
  return WEIR_PARSE_OK;
}

#endif /* WEIR_BPF_IPV6_BPF_H_ */
