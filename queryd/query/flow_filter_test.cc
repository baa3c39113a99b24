#include "queryd/query/flow_filter.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "queryd/query/flow_test_util.h"

namespace weir::query {
namespace {

using store::kDimDstAddr;
using store::kDimDstPort;
using store::kDimProtocol;
using store::kDimSrcAddr;

using ::testing::HasSubstr;

weir::v1::FlowFilter Proto(const std::string& text) {
  weir::v1::FlowFilter filter;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &filter))
      << text;
  return filter;
}

FlowFilter Compiled(const std::string& text) {
  absl::StatusOr<FlowFilter> filter = FlowFilter::Compile(Proto(text));
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() ? *filter : FlowFilter();
}

// The flow every test starts from.
store::FlowRecord Flow() { return TcpFlowTo("198.51.100.20"); }

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<FlowFilter> filter = FlowFilter::Compile(Proto(text));
  EXPECT_FALSE(filter.ok()) << text;
  if (filter.ok()) return "";
  EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string{filter.status().message()};
}

TEST(FlowFilterTest, EmptyMatchesEverything) {
  const FlowFilter filter = Compiled("");
  EXPECT_TRUE(filter.empty());
  EXPECT_TRUE(filter.Matches(Flow()));
}

// Which filters the test flow (TCP 192.0.2.10:40000 -> 198.51.100.20:443,
// node-a, eth0, egress) matches, field by field.
TEST(FlowFilterTest, MatchesTheTestFlowFieldByField) {
  const struct {
    std::string filter;
    bool matches;
  } cases[] = {
      // Either side
      {"addr: '198.51.100.0/24'", true},
      {"addr: '192.0.2.10'", true},
      {"addr: '203.0.113.0/24'", false},
      {"addr: '2001:db8::/32'", false},
      // Source, destination
      {"src_addr: '192.0.2.0/24'", true},
      {"src_addr: '198.51.100.0/24'", false},
      {"dst_addr: '198.51.100.0/24'", true},
      {"dst_addr: '192.0.2.0/24'", false},
      // Node
      {"node: 'node-b' node: 'node-a'", true},
      {"node: 'node-b'", false},
      // Interface
      {"interface: 'eth0'", true},
      {"interface: 'eth1'", false},
      // Direction
      {"direction: DIRECTION_EGRESS", true},
      {"direction: DIRECTION_INGRESS", false},
      // Protocol by name and number
      {"protocol: 'TCP'", true},
      {"protocol: 'udp' protocol: '6'", true},
      {"protocol: 'icmp'", false},
      // Ports
      {"port: 443", true},
      {"port: 40000", true},
      {"port: 80", false},
      {"src_port: 40000", true},
      {"src_port: 443", false},
      {"dst_port: 80 dst_port: 443", true},
      {"dst_port: 40000", false},
      // Fields are and-ed
      {"protocol: 'tcp' dst_port: 443 node: 'node-a'", true},
      {"protocol: 'tcp' dst_port: 443 node: 'node-b'", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Compiled(c.filter).Matches(Flow()), c.matches) << c.filter;
  }
}

TEST(FlowFilterTest, Ipv6Addresses) {
  store::FlowRecord flow = Flow();
  flow.src_addr = Addr("2001:db8::1");
  flow.dst_addr = Addr("2001:db8:1::2");
  EXPECT_TRUE(Compiled("src_addr: '2001:db8::/48'").Matches(flow));
  EXPECT_FALSE(Compiled("dst_addr: '2001:db8::/48'").Matches(flow));
  EXPECT_FALSE(Compiled("src_addr: '0.0.0.0/0'").Matches(flow));
}

TEST(FlowFilterTest, ErrorsNameTheField) {
  EXPECT_THAT(ErrorOf("src_addr: '10.0.0.0/8' src_addr: '10.0.0.0/33'"),
              HasSubstr("filter.src_addr[1]: "));
  EXPECT_THAT(ErrorOf("dst_addr: '300.1.1.1'"),
              HasSubstr("filter.dst_addr[0]: "));
  EXPECT_THAT(ErrorOf("addr: ''"), HasSubstr("filter.addr[0]: "));
  EXPECT_THAT(ErrorOf("port: 0"),
              HasSubstr("filter.port[0]: port 0 is outside 1..65535"));
  EXPECT_THAT(ErrorOf("src_port: 70000"), HasSubstr("filter.src_port[0]"));
  EXPECT_THAT(ErrorOf("dst_port: 22 dst_port: 65536"),
              HasSubstr("filter.dst_port[1]"));
  EXPECT_THAT(ErrorOf("protocol: 'tcpp'"),
              HasSubstr("filter.protocol[0]: unknown protocol \"tcpp\""));
  EXPECT_THAT(ErrorOf("protocol: '256'"), HasSubstr("filter.protocol[0]"));
  EXPECT_THAT(ErrorOf("protocol: '-1'"), HasSubstr("filter.protocol[0]"));
  EXPECT_THAT(ErrorOf("node: ''"),
              HasSubstr("filter.node[0]: must not be empty"));
  EXPECT_THAT(ErrorOf("interface: ''"), HasSubstr("filter.interface[0]"));
  EXPECT_THAT(ErrorOf("node: '" + std::string(300, 'n') + "'"),
              HasSubstr("filter.node[0]: longer than 253"));
  weir::v1::FlowFilter bad_enum;
  bad_enum.set_direction(static_cast<weir::v1::Direction>(7));
  absl::StatusOr<FlowFilter> filter = FlowFilter::Compile(bad_enum, "query.f");
  ASSERT_FALSE(filter.ok());
  EXPECT_THAT(filter.status().message(),
              HasSubstr("query.f.direction: unknown value 7; use "
                        "DIRECTION_INGRESS or DIRECTION_EGRESS"));
}

TEST(FlowFilterTest, DimensionsTellWhichViewsCanAnswer) {
  EXPECT_EQ(Compiled("src_addr: '192.0.2.0/24'").Dimensions(), kDimSrcAddr);
  EXPECT_EQ(Compiled("addr: '192.0.2.0/24'").Dimensions(),
            kDimSrcAddr | kDimDstAddr);
  EXPECT_EQ(Compiled("protocol: 'udp' dst_port: 53").Dimensions(),
            kDimProtocol | kDimDstPort);
  const uint32_t node_view = store::ViewDimensions(store::View::kNode);
  EXPECT_EQ(Compiled("node: 'a' direction: DIRECTION_INGRESS").Dimensions() &
                ~node_view,
            0u);
}

TEST(FlowFilterTest, MatchesRollupEntriesOfItsView) {
  store::RollupEntry entry;
  entry.view = store::View::kDstPort;
  entry.protocol = 17;
  entry.port = 53;
  EXPECT_TRUE(Compiled("protocol: 'udp' dst_port: 53").Matches(entry));
  EXPECT_FALSE(Compiled("protocol: 'udp' dst_port: 54").Matches(entry));
  // A view that lacks a filtered dimension never matches.
  EXPECT_FALSE(Compiled("src_port: 53").Matches(entry));
}

TEST(ProtocolTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseProtocol("icmpv6"), 58);
  EXPECT_EQ(*ParseProtocol("47"), 47);
  EXPECT_EQ(*ParseProtocol("0"), 0);
  EXPECT_FALSE(ParseProtocol("").ok());
  EXPECT_FALSE(ParseProtocol("1000").ok());
  EXPECT_FALSE(ParseProtocol(" 6").ok());
  EXPECT_FALSE(ParseProtocol(std::string(10000, '9')).ok());
  EXPECT_EQ(ProtocolName(6), "tcp");
  EXPECT_EQ(ProtocolName(132), "132");
}

}  // namespace
}  // namespace weir::query
