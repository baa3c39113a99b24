// For the query package's tests: flow records from readable addresses.

#ifndef WEIR_QUERYD_QUERY_FLOW_TEST_UTIL_H_
#define WEIR_QUERYD_QUERY_FLOW_TEST_UTIL_H_

#include "absl/strings/string_view.h"
#include "common/ip_address_test_util.h"
#include "queryd/store/store_types.h"

namespace weir::query {

// The stored form of the address `text` names (a test failure when it
// names none).
inline store::Address Addr(absl::string_view text) {
  return ParsedAddress(text).bytes();
}

// A TCP flow node-a saw leaving on eth0, 192.0.2.10:40000 to `dst`:443.
inline store::FlowRecord TcpFlowTo(absl::string_view dst) {
  store::FlowRecord flow;
  flow.node = "node-a";
  flow.ifname = "eth0";
  flow.direction = weir::v1::DIRECTION_EGRESS;
  flow.protocol = 6;
  flow.src_addr = Addr("192.0.2.10");
  flow.dst_addr = Addr(dst);
  flow.src_port = 40000;
  flow.dst_port = 443;
  return flow;
}

}  // namespace weir::query

#endif  // WEIR_QUERYD_QUERY_FLOW_TEST_UTIL_H_
