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

TEST(FlowFilterTest, Node) {
  EXPECT_TRUE(Compiled("node: 'node-b' node: 'node-a'").Matches(Flow()));
  EXPECT_FALSE(Compiled("node: 'node-b'").Matches(Flow()));
}

TEST(FlowFilterTest, Interface) {
  EXPECT_TRUE(Compiled("interface: 'eth0'").Matches(Flow()));
  EXPECT_FALSE(Compiled("interface: 'eth1'").Matches(Flow()));
}

TEST(FlowFilterTest, Direction) {
  EXPECT_TRUE(Compiled("direction: DIRECTION_EGRESS").Matches(Flow()));
  EXPECT_FALSE(Compiled("direction: DIRECTION_INGRESS").Matches(Flow()));
}

TEST(FlowFilterTest, ProtocolByNameAndNumber) {
  EXPECT_TRUE(Compiled("protocol: 'TCP'").Matches(Flow()));
  EXPECT_TRUE(Compiled("protocol: 'udp' protocol: '6'").Matches(Flow()));
  EXPECT_FALSE(Compiled("protocol: 'icmp'").Matches(Flow()));
}

TEST(FlowFilterTest, EitherSideAddress) {
  EXPECT_TRUE(Compiled("addr: '198.51.100.0/24'").Matches(Flow()));
  EXPECT_TRUE(Compiled("addr: '192.0.2.10'").Matches(Flow()));
  EXPECT_FALSE(Compiled("addr: '203.0.113.0/24'").Matches(Flow()));
  EXPECT_FALSE(Compiled("addr: '2001:db8::/32'").Matches(Flow()));
}

TEST(FlowFilterTest, SourceAndDestinationAddress) {
  EXPECT_TRUE(Compiled("src_addr: '192.0.2.0/24'").Matches(Flow()));
  EXPECT_FALSE(Compiled("src_addr: '198.51.100.0/24'").Matches(Flow()));
  EXPECT_TRUE(Compiled("dst_addr: '198.51.100.0/24'").Matches(Flow()));
  EXPECT_FALSE(Compiled("dst_addr: '192.0.2.0/24'").Matches(Flow()));
}

TEST(FlowFilterTest, Ipv6Addresses) {
  store::FlowRecord flow = Flow();
  flow.src_addr = Addr("2001:db8::1");
  flow.dst_addr = Addr("2001:db8:1::2");
  EXPECT_TRUE(Compiled("src_addr: '2001:db8::/48'").Matches(flow));
  EXPECT_FALSE(Compiled("dst_addr: '2001:db8::/48'").Matches(flow));
  EXPECT_FALSE(Compiled("src_addr: '0.0.0.0/0'").Matches(flow));
}

TEST(FlowFilterTest, Ports) {
  EXPECT_TRUE(Compiled("port: 443").Matches(Flow()));
  EXPECT_TRUE(Compiled("port: 40000").Matches(Flow()));
  EXPECT_FALSE(Compiled("port: 80").Matches(Flow()));
  EXPECT_TRUE(Compiled("src_port: 40000").Matches(Flow()));
  EXPECT_FALSE(Compiled("src_port: 443").Matches(Flow()));
  EXPECT_TRUE(Compiled("dst_port: 80 dst_port: 443").Matches(Flow()));
  EXPECT_FALSE(Compiled("dst_port: 40000").Matches(Flow()));
}

TEST(FlowFilterTest, FieldsAreAnded) {
  EXPECT_TRUE(
      Compiled("protocol: 'tcp' dst_port: 443 node: 'node-a'").Matches(Flow()));
  EXPECT_FALSE(
      Compiled("protocol: 'tcp' dst_port: 443 node: 'node-b'").Matches(Flow()));
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
