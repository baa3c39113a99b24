#include "queryd/query/grouping.h"

#include <string>

#include "gtest/gtest.h"
#include "queryd/query/flow_test_util.h"
#include "queryd/store/tier_chooser.h"

namespace weir::query {
namespace {

// The flow every test starts from.
store::FlowRecord Flow() { return TcpFlowTo("2001:db8::20"); }

std::string Shown(weir::v1::GroupBy group_by, const GroupKey& key) {
  weir::v1::Talker talker;
  SetGroupFields(group_by, key, &talker);
  return talker.ShortDebugString();
}

// The group `flow` falls in under `group_by`, as an answer shows it.
std::string ShownKey(weir::v1::GroupBy group_by,
                     const store::FlowRecord& flow) {
  return Shown(group_by, GroupKeyOf(group_by, flow));
}

TEST(GroupingTest, DimensionsOfEveryGrouping) {
  using namespace store;  // NOLINT: the Dimension bits
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_UNSPECIFIED), 0u);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_SRC), kDimSrcAddr);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_DST), kDimDstAddr);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_PAIR),
            kDimSrcAddr | kDimDstAddr);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_SRC_PORT),
            kDimProtocol | kDimSrcPort);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_DST_PORT),
            kDimProtocol | kDimDstPort);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_PROTOCOL), kDimProtocol);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_NODE), kDimNode);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_INTERFACE),
            kDimNode | kDimInterface);
  EXPECT_EQ(GroupDimensions(weir::v1::GROUP_BY_DIRECTION), kDimDirection);
}

TEST(GroupingTest, KeysOfRecordsShowOnlyTheGrouping) {
  const store::FlowRecord flow = Flow();
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_SRC, flow), "src_addr: \"192.0.2.10\"");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_DST, flow),
            "dst_addr: \"2001:db8::20\"");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_PAIR, flow),
            "src_addr: \"192.0.2.10\" dst_addr: \"2001:db8::20\"");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_SRC_PORT, flow),
            "port: 40000 protocol: 6");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_DST_PORT, flow),
            "port: 443 protocol: 6");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_PROTOCOL, flow), "protocol: 6");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_NODE, flow), "node: \"node-a\"");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_INTERFACE, flow),
            "node: \"node-a\" ifname: \"eth0\"");
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_DIRECTION, flow),
            "direction: DIRECTION_EGRESS");
  // A grouping's field is shown even when it is zero (explicit presence):
  // ICMP has no ports, and its group still says port 0.
  store::FlowRecord icmp = Flow();
  icmp.protocol = 1;
  icmp.src_port = 0;
  icmp.dst_port = 0;
  EXPECT_EQ(ShownKey(weir::v1::GROUP_BY_DST_PORT, icmp), "port: 0 protocol: 1");
  // Fields outside the grouping stay at their defaults in the key too.
  EXPECT_EQ(GroupKeyOf(weir::v1::GROUP_BY_SRC, flow),
            GroupKeyOf(weir::v1::GROUP_BY_SRC, [] {
              store::FlowRecord other = Flow();
              other.dst_addr = Addr("198.51.100.1");
              other.node = "node-b";
              return other;
            }()));
}

TEST(GroupingTest, KeysOfRollupEntriesMatchKeysOfRecords) {
  const store::FlowRecord flow = Flow();
  store::RollupEntry entry;
  entry.view = store::View::kDstPort;
  entry.protocol = 6;
  entry.port = 443;
  EXPECT_EQ(GroupKeyOf(weir::v1::GROUP_BY_DST_PORT, entry),
            GroupKeyOf(weir::v1::GROUP_BY_DST_PORT, flow));
  entry.view = store::View::kSrcPort;
  entry.port = 40000;
  EXPECT_EQ(GroupKeyOf(weir::v1::GROUP_BY_SRC_PORT, entry),
            GroupKeyOf(weir::v1::GROUP_BY_SRC_PORT, flow));
  entry = store::RollupEntry();
  entry.view = store::View::kNode;
  entry.node = "node-a";
  entry.ifname = "eth0";
  entry.direction = weir::v1::DIRECTION_EGRESS;
  for (auto group_by : {weir::v1::GROUP_BY_NODE, weir::v1::GROUP_BY_INTERFACE,
                        weir::v1::GROUP_BY_DIRECTION}) {
    EXPECT_EQ(GroupKeyOf(group_by, entry), GroupKeyOf(group_by, flow));
  }
  entry = store::RollupEntry();
  entry.view = store::View::kPair;
  entry.src_addr = flow.src_addr;
  entry.dst_addr = flow.dst_addr;
  for (auto group_by : {weir::v1::GROUP_BY_SRC, weir::v1::GROUP_BY_DST,
                        weir::v1::GROUP_BY_PAIR}) {
    EXPECT_EQ(GroupKeyOf(group_by, entry), GroupKeyOf(group_by, flow));
  }
}

TEST(GroupingTest, RanksByTheMetricThenByKey) {
  GroupMap groups;
  auto key = [](const std::string& node) {
    GroupKey k;
    k.node = node;
    return k;
  };
  groups[key("c")] = {300, 1, 5};
  groups[key("a")] = {100, 3, 5};
  groups[key("b")] = {200, 2, 5};
  groups[key("d")] = {200, 4, 1};

  auto names = [](const std::vector<RankedGroup>& ranked) {
    std::string out;
    for (const RankedGroup& group : ranked) out += group.first.node;
    return out;
  };
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_BYTES, 10)), "cbda");
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_PACKETS, 10)), "dabc");
  // Equal flows: by key.
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_FLOWS, 10)), "abcd");
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_BYTES, 2)), "cb");
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_FLOWS, 3)), "abc");
  EXPECT_EQ(names(RankGroups(groups, weir::v1::ORDER_BY_BYTES, 0)), "");
  EXPECT_EQ(RankGroups(groups, weir::v1::ORDER_BY_BYTES, 1)[0].second.bytes,
            300u);
}

TEST(GroupingTest, AddressesOrderByBytes) {
  GroupKey a, b;
  a.src_addr = Addr("192.0.2.2");
  b.src_addr = Addr("192.0.2.10");
  EXPECT_LT(a, b);  // not as text, where "192.0.2.10" < "192.0.2.2"
  b.src_addr = Addr("2001:db8::1");
  EXPECT_LT(a, b);  // IPv4-mapped addresses sort before 2001:db8::/32
}

}  // namespace
}  // namespace weir::query
