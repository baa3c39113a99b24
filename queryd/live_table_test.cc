#include "queryd/live_table.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "queryd/query/page_token.h"
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

TEST(LiveTableTest, TotalsSaturateInsteadOfWrapping) {
  LiveTable table(LiveTableOptions{});
  store::FlowRecord huge = Flow("node-a", 1, uint64_t{1} << 63, kNow);
  huge.bytes = uint64_t{1} << 63;
  table.Add({huge}, kNow);
  table.Add({huge}, kNow);
  const weir::v1::ListConnectionsResponse response = List(table);
  ASSERT_EQ(response.connections_size(), 1);
  EXPECT_EQ(response.connections(0).packets(), ~uint64_t{0});
  EXPECT_EQ(response.connections(0).bytes(), ~uint64_t{0});
}

// One page of a walk.
weir::v1::ListConnectionsResponse Page(LiveTable& table, int page_size,
                                       const std::string& token,
                                       absl::Time now = kNow) {
  weir::v1::ListConnectionsRequest request;
  request.set_page_size(page_size);
  request.set_page_token(token);
  absl::StatusOr<weir::v1::ListConnectionsResponse> response =
      table.List(request, now);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? *response : weir::v1::ListConnectionsResponse();
}

// "node/src_port" of each connection listed.
std::vector<std::string> Names(
    const weir::v1::ListConnectionsResponse& response) {
  std::vector<std::string> names;
  for (const weir::v1::Flow& flow : response.connections()) {
    names.push_back(
        absl::StrCat(flow.key().node(), "/", flow.key().src_port()));
  }
  return names;
}

TEST(LiveTablePagingTest, PagesListEveryConnectionOnceInKeyOrder) {
  LiveTable table(LiveTableOptions{});
  std::vector<store::FlowRecord> flows;
  for (uint16_t port = 1; port <= 250; ++port) {
    // Packets fall as ports rise: key order is not packet order.
    flows.push_back(Flow("node-a", port, 1000 - port, kNow));
  }
  table.Add(flows, kNow);
  std::vector<std::string> walk;
  std::string token;
  int pages = 0;
  do {
    const weir::v1::ListConnectionsResponse page = Page(table, 100, token);
    EXPECT_EQ(page.total(), 250u);
    const std::vector<std::string> names = Names(page);
    walk.insert(walk.end(), names.begin(), names.end());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(walk.size(), 250u);
  for (uint16_t port = 1; port <= 250; ++port) {
    EXPECT_EQ(walk[port - 1], absl::StrCat("node-a/", port));
  }
}

TEST(LiveTablePagingTest, AnExactLastPageHasNoToken) {
  LiveTable table(LiveTableOptions{});
  table.Add({Flow("node-a", 1, 1, kNow), Flow("node-a", 2, 1, kNow)}, kNow);
  const weir::v1::ListConnectionsResponse page = Page(table, 2, "");
  EXPECT_EQ(page.connections_size(), 2);
  EXPECT_EQ(page.next_page_token(), "");
}

TEST(LiveTablePagingTest, PagesNeitherRepeatNorSkipWhileTheTableChanges) {
  LiveTableOptions options;
  options.connection_timeout = absl::Seconds(10);
  LiveTable table(options);
  std::vector<store::FlowRecord> flows;
  for (uint16_t port = 100; port < 200; ++port) {
    flows.push_back(Flow("node-b", port, 1, kNow));
  }
  flows.push_back(Flow("node-b", 500, 1, kNow - absl::Seconds(8)));
  table.Add(flows, kNow);
  weir::v1::ListConnectionsResponse page = Page(table, 30, "");
  std::vector<std::string> walk = Names(page);
  ASSERT_EQ(walk.back(), "node-b/129");

  // Between pages: every listed and unlisted connection grows (a ranking
  // by packets would reorder them all), new connections start before and
  // after the point reached, and node-b/500 goes idle past the timeout.
  const absl::Time later = kNow + absl::Seconds(3);
  flows.clear();
  for (uint16_t port = 100; port < 200; ++port) {
    flows.push_back(Flow("node-b", port, port, later));
  }
  flows.push_back(Flow("node-b", 50, 1, later));   // before: not listed
  flows.push_back(Flow("node-b", 300, 1, later));  // after: listed once
  flows.push_back(Flow("node-a", 7, 1, later));    // another node, before
  table.Add(flows, later);

  for (int i = 0; i < 20 && !page.next_page_token().empty(); ++i) {
    page = Page(table, 30, page.next_page_token(), later);
    const std::vector<std::string> names = Names(page);
    walk.insert(walk.end(), names.begin(), names.end());
  }
  EXPECT_EQ(page.next_page_token(), "");
  std::vector<std::string> expected;
  for (uint16_t port = 100; port < 200; ++port) {
    expected.push_back(absl::StrCat("node-b/", port));
  }
  expected.push_back("node-b/300");
  EXPECT_EQ(walk, expected);
}

TEST(LiveTablePagingTest, ATokenKeepsItsFilter) {
  LiveTable table(LiveTableOptions{});
  table.Add({Flow("node-a", 1, 1, kNow), Flow("node-a", 2, 1, kNow),
             Flow("node-b", 1, 1, kNow)},
            kNow);
  weir::v1::ListConnectionsRequest request;
  request.mutable_filter()->add_node("node-a");
  request.set_page_size(1);
  absl::StatusOr<weir::v1::ListConnectionsResponse> first =
      table.List(request, kNow);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->total(), 2u);
  ASSERT_NE(first->next_page_token(), "");
  // The same filter with another page size goes on.
  request.set_page_size(5);
  request.set_page_token(first->next_page_token());
  absl::StatusOr<weir::v1::ListConnectionsResponse> second =
      table.List(request, kNow);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Names(*second), std::vector<std::string>{"node-a/2"});
  // Another filter is refused.
  request.mutable_filter()->set_node(0, "node-b");
  absl::StatusOr<weir::v1::ListConnectionsResponse> other =
      table.List(request, kNow);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(other.status().message(),
                               "page_token: does not belong to this query"))
      << other.status();
}

TEST(LiveTablePagingTest, BadPagingRequestsNameTheField) {
  LiveTable table(LiveTableOptions{});
  table.Add({Flow("node-a", 1, 1, kNow)}, kNow);
  const auto error_of = [&](const std::string& text) {
    weir::v1::ListConnectionsRequest request;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &request))
        << text;
    absl::StatusOr<weir::v1::ListConnectionsResponse> response =
        table.List(request, kNow);
    EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    return std::string{response.status().message()};
  };
  // A ListFlows token.
  query::PageToken flows_token;
  flows_token.range = {kNow - absl::Hours(1), kNow};
  flows_token.cursor = "x";
  for (const auto& [request, field] :
       std::vector<std::pair<std::string, std::string>>{
           {"page_size: -1", "page_size: -1 is outside 0..1000"},
           {"page_size: 1001", "page_size: 1001 is outside 0..1000"},
           {"page_size: 5 limit: 5", "limit: cannot be combined"},
           {"page_token: \"x\" order_by: ORDER_BY_BYTES",
            "order_by: cannot be combined"},
           {"order_by: 9",
            "order_by: unknown value 9; use ORDER_BY_BYTES, ORDER_BY_PACKETS "
            "or ORDER_BY_FLOWS (ORDER_BY_UNSPECIFIED: packets)"},
           {"page_token: \"%%%\"", "page_token: not a token of this API"},
           {"page_token: \"AgEj\"", "page_token: not a token of this API"},
           {absl::StrCat("page_token: \"", query::EncodePageToken(flows_token),
                         "\""),
            "page_token: not a token of this API (version 1, a ListFlows"},
       }) {
    EXPECT_TRUE(absl::StartsWith(error_of(request), field))
        << request << " -> " << error_of(request);
  }
}

}  // namespace
}  // namespace weir::queryd
