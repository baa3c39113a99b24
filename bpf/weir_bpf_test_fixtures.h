// The table of BPF_PROG_TEST_RUN parsing cases that weir_bpf_test.cc runs
// through the kernel program: each case is a description, the frames built by
// PacketBuilder, the expected return code and the exact map effect (every
// flow entry, every loss counter delta).
#ifndef WEIR_BPF_WEIR_BPF_TEST_FIXTURES_H_
#define WEIR_BPF_WEIR_BPF_TEST_FIXTURES_H_

#include <linux/pkt_cls.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "bpf/testing/packet_builder.h"
#include "bpf/weir_flow.h"

namespace weir::bpf::fixtures {

// BPF_PROG_TEST_RUN runs TC programs on an skb of the loopback device of the
// caller's network namespace.
inline constexpr uint32_t kLoopbackIfindex = 1;

inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;

// A flow key as the program builds it for an ingress packet on loopback.
weir_flow_key Key(int version, uint8_t protocol, const char* src,
                  const char* dst, uint16_t src_port = 0,
                  uint16_t dst_port = 0);
weir_flow_key AsEgress(weir_flow_key key);

// Printing and ordering keys, for failure messages and comparisons.
std::string KeyToString(const weir_flow_key& k);
bool KeyLess(const weir_flow_key& a, const weir_flow_key& b);

enum class Hook { kIngress, kEgress };

struct Input {
  std::vector<uint8_t> frame;
  Hook hook = Hook::kIngress;
  // __sk_buff fields BPF_PROG_TEST_RUN lets a test set (net/bpf/test_run.c,
  // convert___skb_to_skb: mark, priority, ingress_ifindex, ifindex, cb,
  // tstamp, wire_len, gso_segs, gso_size, hwtstamp).
  uint32_t gso_segs = 0;
  uint32_t gso_size = 0;
};

struct ExpectedFlow {
  weir_flow_key key;
  uint64_t packets;
  uint64_t bytes;
  uint32_t tcp_flags;
};

struct Case {
  const char* name;  // the gtest parameter name
  const char* description;
  std::vector<Input> inputs;
  std::vector<ExpectedFlow> flows;  // exactly these entries, in any order
  // Loss counters that move, with their packet/byte deltas; all others stay.
  std::vector<std::pair<weir_counter_index, weir_counter>> losses;
  int retval = TC_ACT_UNSPEC;
};

// One input frame, and one with GSO segments as the kernel would see them.
Input In(std::vector<uint8_t> frame, Hook hook = Hook::kIngress);
Input Gso(std::vector<uint8_t> frame, uint32_t segs, uint32_t size);

// A frame from 192.0.2.1 to 198.51.100.2, and from 2001:db8::1 to ::2,
// for the caller to finish with an L4 header.
testing::PacketBuilder V4();
testing::PacketBuilder V6();

// gtest prints a failing parameter with this rather than its bytes.
void PrintTo(const Case& c, std::ostream* os);

// Every parsing case.
std::vector<Case> ParseCases();

}  // namespace weir::bpf::fixtures

#endif  // WEIR_BPF_WEIR_BPF_TEST_FIXTURES_H_
