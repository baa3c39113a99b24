#include "queryd/live_table.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "weir/v1/query.pb.h"

namespace weir::queryd {
namespace {

constexpr uint64_t kSecond = 1000000000;
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

store::FlowRecord Flow(const std::string& node, uint16_t src_port,
                       uint64_t packets, absl::Time last_seen) {
  store::FlowRecord flow;
  flow.node = node;
  flow.ifindex = 2;
  flow.ifname = "eth0";
  flow.direction = weir::v1::DIRECTION_EGRESS;
  flow.protocol = 17;
  store::AddressFromBytes(std::string("\xc0\x00\x02\x01", 4), &flow.src_addr);
  store::AddressFromBytes(std::string("\xc6\x33\x64\x01", 4), &flow.dst_addr);
  flow.src_port = src_port;
  flow.dst_port = 53;
  flow.packets = packets;
  flow.bytes = packets * 100;
  flow.last_seen_unix_nano =
      static_cast<uint64_t>(absl::ToUnixNanos(last_seen));
  flow.first_seen_unix_nano = flow.last_seen_unix_nano - kSecond;
  return flow;
}

weir::v1::ListConnectionsResponse List(LiveTable& table) {
  weir::v1::ListConnectionsRequest request;
  request.set_limit(100);
  absl::StatusOr<weir::v1::ListConnectionsResponse> response =
      table.List(request, kNow);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? *response : weir::v1::ListConnectionsResponse();
}

TEST(LiveTableTest, SumsAFlowAcrossBatchesAndKeepsNodesApart) {
  LiveTable table(LiveTableOptions{});
  // The same 5-tuple from two nodes is two connections; a flow seen in two
  // batches is one.
  table.Add({Flow("node-a", 1000, 3, kNow - absl::Seconds(5)),
             Flow("node-a", 1001, 1, kNow - absl::Seconds(5))},
            kNow);
  table.Add({Flow("node-b", 1000, 7, kNow - absl::Seconds(4))}, kNow);
  table.Add({Flow("node-a", 1000, 2, kNow - absl::Seconds(1))}, kNow);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.total(), 3u);
  ASSERT_EQ(response.connections_size(), 3);
  // By packets: node-b's 7, node-a's 3 + 2, node-a's 1.
  EXPECT_EQ(response.connections(0).key().node(), "node-b");
  EXPECT_EQ(response.connections(0).packets(), 7u);
  EXPECT_EQ(response.connections(1).key().node(), "node-a");
  EXPECT_EQ(response.connections(1).key().src_port(), 1000u);
  EXPECT_EQ(response.connections(1).packets(), 5u);
  EXPECT_EQ(response.connections(1).bytes(), 500u);
  EXPECT_EQ(response.connections(2).key().node(), "node-a");
  EXPECT_EQ(response.connections(2).key().src_port(), 1001u);
  EXPECT_EQ(table.Count(kNow), 3u);
  EXPECT_EQ(table.overflow(), 0u);
}

TEST(LiveTableTest, AFullTableCountsNewFlowsAsOverflowAndStillSumsOldOnes) {
  LiveTableOptions options;
  options.max_connections = 2;
  LiveTable table(options);
  table.Add({Flow("node-a", 1, 1, kNow), Flow("node-a", 2, 1, kNow),
             Flow("node-a", 3, 1, kNow), Flow("node-b", 1, 1, kNow)},
            kNow);
  EXPECT_EQ(table.overflow(), 2u);
  table.Add({Flow("node-a", 2, 4, kNow), Flow("node-c", 9, 1, kNow)}, kNow);
  EXPECT_EQ(table.overflow(), 3u);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.connections_size(), 2);
  EXPECT_EQ(response.connections(0).key().src_port(), 2u);
  EXPECT_EQ(response.connections(0).packets(), 5u);
  EXPECT_EQ(response.connections(1).key().src_port(), 1u);
  EXPECT_EQ(response.connections(1).key().node(), "node-a");
}

TEST(LiveTableTest, ConnectionsOlderThanTheTimeoutAreGone) {
  LiveTableOptions options;
  options.connection_timeout = absl::Seconds(10);
  LiveTable table(options);
  table.Add({Flow("node-a", 1, 1, kNow - absl::Seconds(11)),
             Flow("node-a", 2, 1, kNow - absl::Seconds(9))},
            kNow);
  EXPECT_EQ(table.Count(kNow), 1u);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.connections_size(), 1);
  EXPECT_EQ(response.connections(0).key().src_port(), 2u);
}

TEST(LiveTableTest, AFullTableMakesRoomByExpiringConnectionsPastTheTimeout) {
  LiveTableOptions options;
  options.max_connections = 2;
  options.connection_timeout = absl::Seconds(10);
  LiveTable table(options);
  table.Add({Flow("node-a", 1, 1, kNow - absl::Seconds(20)),
             Flow("node-a", 2, 1, kNow - absl::Seconds(20))},
            kNow - absl::Seconds(15));
  // Nobody read the table since: both are past the timeout now, and the
  // new connection takes the place of one.
  table.Add({Flow("node-a", 3, 7, kNow)}, kNow);
  EXPECT_EQ(table.overflow(), 0u);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.connections_size(), 1);
  EXPECT_EQ(response.connections(0).key().src_port(), 3u);
  EXPECT_EQ(response.connections(0).packets(), 7u);
}

TEST(LiveTableTest, ALateFlowAddsToItsConnectionButStartsNone) {
  LiveTableOptions options;
  options.max_connections = 2;
  options.connection_timeout = absl::Seconds(10);
  LiveTable table(options);
  table.Add({Flow("node-a", 1, 2, kNow - absl::Seconds(1))}, kNow);
  // A batch that arrives late: its flows ended 30 s ago.
  table.Add({Flow("node-a", 1, 3, kNow - absl::Seconds(30)),
             Flow("node-a", 2, 1, kNow - absl::Seconds(30)),
             Flow("node-a", 4, 1, kNow - absl::Seconds(30))},
            kNow);
  EXPECT_EQ(table.overflow(), 0u);
  EXPECT_EQ(table.Count(kNow), 1u);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.connections_size(), 1);
  EXPECT_EQ(response.connections(0).key().src_port(), 1u);
  EXPECT_EQ(response.connections(0).packets(), 5u);
  EXPECT_EQ(response.connections(0).last_seen().seconds(),
            absl::ToUnixSeconds(kNow - absl::Seconds(1)));
}

}  // namespace
}  // namespace weir::queryd
