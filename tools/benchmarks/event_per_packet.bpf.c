// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One ring-buffer event per packet: a re-implementation, for the peers
 * benchmark (tools/bench peers), of the design ayaFlow uses -- the kernel
 * program copies every packet's 5-tuple, length and time into a BPF ring
 * buffer and a user-space consumer (event_per_packet.cc) does the rest. It is
 * written from that description in this project's own code; it is not
 * ayaFlow and says nothing about ayaFlow's own speed beyond the design.
 *
 * Every packet is one event (IPv4 5-tuple; other frames an event with only
 * the length and EtherType). When the ring is full the event is lost, and
 * counted in `lost` so the consumer can report it. Observes only: returns
 * TC_ACT_UNSPEC.
 */
// libbpf's headers use the UAPI types: they come after them.
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "event_per_packet.h" /* the package folder is on the path */

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, EPP_RING_BYTES);
} events SEC(".maps");

/* Events the ring had no room for, per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

SEC("tc")
int event_per_packet(struct __sk_buff *skb) {
  struct epp_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  struct iphdr ip;
  __u16 ports[2];
  __u32 zero = 0;

  if (!e) {
    __u64 *n = bpf_map_lookup_elem(&lost, &zero);
    if (n) *n += 1;
    return TC_ACT_UNSPEC;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->time_ns = bpf_ktime_get_ns();
  e->bytes = skb->len;
  e->ethertype = bpf_ntohs(skb->protocol);
  e->ifindex = skb->ifindex;
  if (skb->protocol == bpf_htons(ETH_P_IP) &&
      bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) == 0) {
    e->src_addr = ip.saddr;
    e->dst_addr = ip.daddr;
    e->protocol = ip.protocol;
    if ((ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP) &&
        !(ip.frag_off & bpf_htons(0x1fff)) &&
        bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4, ports, sizeof(ports)) ==
            0) {
      e->src_port = bpf_ntohs(ports[0]);
      e->dst_port = bpf_ntohs(ports[1]);
    }
  }
  bpf_ringbuf_submit(e, 0);
  return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
