#include "queryd/query/query_engine.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/cidr.h"
#include "common/ip_address.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "queryd/store/store.h"
#include "queryd/store/store_test_util.h"
#include "weir/v1/ingest.pb.h"
#include "weir/v1/query.pb.h"

namespace weir::query {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr uint64_t kNanosPerSecond = 1000000000;
// 2023-11-14T23:00:00Z: a whole hour, so [kBase, kBase + 2h) is answered by
// the hour tier.
constexpr int64_t kBase = 1700002800;
constexpr int kBatchesPerNode = 24;  // one every 5 minutes for 2 hours
constexpr int64_t kBatchPeriod = 300;

absl::Time At(int64_t seconds_after_base) {
  return absl::FromUnixSeconds(kBase + seconds_after_base);
}

// The whole data set: two hours, aligned (rollups answer) and unaligned by
// a second at the start (raw answers), holding exactly the same flows.
const absl::Time kStart = At(0);
const absl::Time kEnd = At(2 * 3600);
const absl::Time kRawStart = At(1);
const absl::Time kNow = At(3 * 3600);

std::unique_ptr<store::Store> OpenStore(absl::string_view name) {
  store::StoreOptions options;
  options.data_dir = store::ScratchDir(name);
  options.sync_writes = false;
  absl::StatusOr<std::unique_ptr<store::Store>> opened =
      store::Store::Open(options);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? *std::move(opened) : nullptr;
}

std::string Bytes(const std::string& address) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(address);
  EXPECT_TRUE(ip.ok()) << address;
  if (!ip.ok()) return "";
  const auto& bytes = ip->bytes();
  if (ip->is_ipv4()) return std::string(bytes.begin() + 12, bytes.end());
  return std::string(bytes.begin(), bytes.end());
}

struct BatchSpec {
  std::string node = "node-a";
  uint64_t seq = 1;
  absl::Time interval_start;
  int flows = 10;
  uint64_t map_full_packets = 0;
  uint64_t non_ip_packets = 0;
};

// store_test_util's batch (IPv4 and IPv6 flows over TCP, UDP and ICMP on
// two interfaces, both directions, every flow within the batch's one-second
// interval, counters consistent with flows and losses), seeded by node and
// seq: the same spec gives the same batch.
weir::v1::FlowBatch MakeBatch(const BatchSpec& spec) {
  store::BatchSpec batch;
  batch.node = spec.node;
  batch.seq = spec.seq;
  batch.interval_start_unix_nano =
      static_cast<uint64_t>(absl::ToUnixNanos(spec.interval_start));
  batch.flows = spec.flows;
  batch.seed = spec.seq * 7919 + spec.node.size() * 104729 +
               static_cast<uint64_t>(spec.node.back());
  batch.map_full_packets = spec.map_full_packets;
  batch.non_ip_packets = spec.non_ip_packets;
  return store::MakeBatch(batch);
}

struct Row {
  std::string node;
  int node_order = 0;  // order of the node's first write (its store id)
  uint64_t seq = 0;
  int index = 0;
  std::string ifname;
  weir::v1::Direction direction = weir::v1::DIRECTION_UNSPECIFIED;
  uint32_t protocol = 0;
  IpAddress src;
  IpAddress dst;
  uint32_t src_port = 0;
  uint32_t dst_port = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t last_seen = 0;

  absl::Time time() const {
    return absl::FromUnixNanos(static_cast<int64_t>(last_seen));
  }
};

// What ListFlows must show of a flow, as one comparable line.
std::string Line(const Row& row) {
  return absl::StrCat(row.node, " ", row.last_seen, " ", row.ifname, " ",
                      row.direction, " ", row.protocol, " ", row.src.ToString(),
                      ":", row.src_port, " > ", row.dst.ToString(), ":",
                      row.dst_port, " ", row.packets, "p ", row.bytes, "B");
}

std::string Line(const weir::v1::Flow& flow) {
  const weir::v1::FlowKey& key = flow.key();
  return absl::StrCat(
      key.node(), " ",
      flow.last_seen().seconds() * kNanosPerSecond + flow.last_seen().nanos(),
      " ", key.ifname(), " ", key.direction(), " ", key.protocol(), " ",
      key.src_addr(), ":", key.src_port(), " > ", key.dst_addr(), ":",
      key.dst_port(), " ", flow.packets(), "p ", flow.bytes(), "B");
}

// Writes batches and remembers their flows.
class Data {
 public:
  explicit Data(store::Store* store) : store_(store) {}

  void Write(const weir::v1::FlowBatch& batch) {
    const absl::Time received = absl::FromUnixNanos(static_cast<int64_t>(
        batch.interval_end_unix_nano() + kNanosPerSecond / 10));
    absl::StatusOr<store::IngestResult> result =
        store_->WriteBatch(batch, received);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_FALSE(result->duplicate());
    batches_.push_back(batch);
    if (!node_order_.count(batch.node())) {
      node_order_.emplace(batch.node(), static_cast<int>(node_order_.size()));
    }
    std::map<uint32_t, std::string> ifnames;
    for (const weir::v1::Interface& i : batch.interfaces()) {
      ifnames[i.ifindex()] = i.name();
    }
    for (int i = 0; i < batch.flows_size(); ++i) {
      const weir::v1::IngestFlow& flow = batch.flows(i);
      Row row;
      row.node = batch.node();
      row.node_order = node_order_[batch.node()];
      row.seq = batch.seq();
      row.index = i;
      row.ifname = ifnames[flow.ifindex()];
      row.direction = flow.direction();
      row.protocol = flow.protocol();
      row.src = *IpAddress::FromBytes(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(flow.src_addr().data()),
          flow.src_addr().size()));
      row.dst = *IpAddress::FromBytes(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(flow.dst_addr().data()),
          flow.dst_addr().size()));
      row.src_port = flow.src_port();
      row.dst_port = flow.dst_port();
      row.packets = flow.packets();
      row.bytes = flow.bytes();
      row.last_seen = flow.last_seen_unix_nano();
      rows_.push_back(row);
    }
  }

  // Rows in [start, end) that pass `keep`, newest first in the store's key
  // order: last_seen, node id, batch number, index, all descending.
  std::vector<Row> Rows(
      absl::Time start, absl::Time end,
      const std::function<bool(const Row&)>& keep = nullptr) const {
    std::vector<Row> out;
    for (const Row& row : rows_) {
      if (row.time() < start || row.time() >= end) continue;
      if (keep && !keep(row)) continue;
      out.push_back(row);
    }
    std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
      return std::tie(a.last_seen, a.node_order, a.seq, a.index) >
             std::tie(b.last_seen, b.node_order, b.seq, b.index);
    });
    return out;
  }

  std::vector<std::string> Lines(
      absl::Time start, absl::Time end,
      const std::function<bool(const Row&)>& keep = nullptr) const {
    std::vector<std::string> out;
    for (const Row& row : Rows(start, end, keep)) out.push_back(Line(row));
    return out;
  }

  // Losses of batches whose interval starts in [start, end), per node and
  // reason, as LossSummary text.
  std::string Losses(absl::Time start, absl::Time end,
                     const std::string& only_node = "") const {
    std::map<std::string, std::map<int, std::pair<uint64_t, uint64_t>>> sums;
    for (const weir::v1::FlowBatch& batch : batches_) {
      const absl::Time t = absl::FromUnixNanos(
          static_cast<int64_t>(batch.interval_start_unix_nano()));
      if (t < start || t >= end) continue;
      if (!only_node.empty() && batch.node() != only_node) continue;
      for (const weir::v1::LossCount& loss : batch.counters().losses()) {
        auto& sum = sums[batch.node()][loss.reason()];
        sum.first += loss.packets();
        sum.second += loss.bytes();
      }
    }
    weir::v1::LossSummary summary;
    uint64_t packets = 0;
    for (const auto& [node, reasons] : sums) {
      weir::v1::NodeLoss* node_loss = summary.add_nodes();
      node_loss->set_node(node);
      for (const auto& [reason, sum] : reasons) {
        weir::v1::LossCount* count = node_loss->add_losses();
        count->set_reason(static_cast<weir::v1::LossReason>(reason));
        count->set_packets(sum.first);
        count->set_bytes(sum.second);
        packets += sum.first;
      }
    }
    summary.set_packets(packets);
    return summary.ShortDebugString();
  }

  const std::vector<weir::v1::FlowBatch>& batches() const { return batches_; }

 private:
  store::Store* store_;
  std::vector<weir::v1::FlowBatch> batches_;
  std::vector<Row> rows_;
  std::map<std::string, int> node_order_;
};

weir::v1::TimeRange Range(absl::Time start, absl::Time end) {
  weir::v1::TimeRange range;
  range.mutable_start()->set_seconds(absl::ToUnixSeconds(start));
  range.mutable_start()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          start - absl::FromUnixSeconds(absl::ToUnixSeconds(start)))));
  range.mutable_end()->set_seconds(absl::ToUnixSeconds(end));
  range.mutable_end()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(
      end - absl::FromUnixSeconds(absl::ToUnixSeconds(end)))));
  return range;
}

weir::v1::FlowFilter Filter(const std::string& text) {
  weir::v1::FlowFilter filter;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &filter))
      << text;
  return filter;
}

template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  EXPECT_FALSE(result.ok());
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  return std::string{result.status().message()};
}

// Options whose clock always says `now`.
QueryEngineOptions ClockAt(absl::Time now) {
  QueryEngineOptions options;
  options.clock = [now] { return now; };
  return options;
}

// Every flow of a ListFlows walk, page by page, following next_page_token.
struct Walk {
  std::vector<std::string> lines;
  std::vector<int> page_sizes;
  absl::Status status;
};

Walk WalkAll(const QueryEngine& engine, weir::v1::ListFlowsRequest request,
             const std::function<void()>& between_pages = nullptr) {
  Walk walk;
  for (int page = 0; page < 100000; ++page) {
    absl::StatusOr<weir::v1::ListFlowsResponse> response =
        engine.ListFlows(request);
    if (!response.ok()) {
      walk.status = response.status();
      return walk;
    }
    walk.page_sizes.push_back(response->flows_size());
    for (const weir::v1::Flow& flow : response->flows()) {
      walk.lines.push_back(Line(flow));
    }
    if (response->next_page_token().empty()) return walk;
    request.set_page_token(response->next_page_token());
    if (between_pages) between_pages();
  }
  walk.status = absl::InternalError("the walk did not end");
  return walk;
}

// The store shared by the tests that only read: two nodes, a batch per node
// every 5 minutes for two hours, and one batch of node-a before and one
// after the window. node-a reports losses, node-b none.
class QueryEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_ = OpenStore("query_engine_test").release();
    ASSERT_NE(store_, nullptr);
    data_ = new Data(store_);
    for (int k = 0; k < kBatchesPerNode; ++k) {
      BatchSpec a;
      a.node = "node-a";
      a.seq = k + 1;
      a.interval_start = At(k * kBatchPeriod + 17);
      a.flows = 12 + (k % 5) * 4;
      a.map_full_packets = k % 3 == 0 ? k + 1 : 0;
      a.non_ip_packets = k % 4 == 0 ? 5 : 0;
      data_->Write(MakeBatch(a));
      BatchSpec b;
      b.node = "node-b";
      b.seq = k + 1;
      b.interval_start = At(k * kBatchPeriod + 167);
      b.flows = 10 + (k % 4) * 3;
      data_->Write(MakeBatch(b));
    }
    // Outside the window, with losses that must not show.
    for (const auto& [seq, offset] :
         {std::pair{uint64_t{25}, int64_t{-283}},
          std::pair{uint64_t{26}, int64_t{2 * 3600 + 17}}}) {
      BatchSpec a;
      a.node = "node-a";
      a.seq = seq;
      a.interval_start = At(offset);
      a.flows = 9;
      a.map_full_packets = 1000;
      data_->Write(MakeBatch(a));
    }
  }

  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
    delete store_;
    store_ = nullptr;
  }

  QueryEngine Engine(QueryEngineOptions options = {}) const {
    if (!options.clock) options.clock = [] { return kNow; };
    return QueryEngine(*store_, std::move(options));
  }

  static store::Store* store_;
  static Data* data_;
};

store::Store* QueryEngineTest::store_ = nullptr;
Data* QueryEngineTest::data_ = nullptr;

// --- ListFlows --------------------------------------------------------------

TEST_F(QueryEngineTest, ListFlowsReturnsTheWindowNewestFirst) {
  weir::v1::ListFlowsRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.set_page_size(1000);
  absl::StatusOr<weir::v1::ListFlowsResponse> response =
      Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  std::vector<std::string> lines;
  for (const weir::v1::Flow& flow : response->flows()) {
    lines.push_back(Line(flow));
  }
  const std::vector<std::string> expected = data_->Lines(kStart, kEnd);
  ASSERT_GT(expected.size(), 500u);
  ASSERT_LT(expected.size(), 1000u);
  EXPECT_EQ(lines, expected);
  EXPECT_EQ(response->next_page_token(), "");
  EXPECT_EQ(response->source(), "raw");
}

TEST_F(QueryEngineTest, ListFlowsDefaultsToTheLastHourAndAHundredFlows) {
  // now (kBase + 3h) is an hour after the window: the last hour holds the
  // batch of node-a after the window only.
  weir::v1::ListFlowsRequest request;
  absl::StatusOr<weir::v1::ListFlowsResponse> response =
      Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 9);

  response = Engine(ClockAt(At(4 * 3600))).ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 0);

  *request.mutable_range() = Range(kStart, kEnd);
  response = Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 100);
  EXPECT_NE(response->next_page_token(), "");

  QueryEngineOptions small_pages;
  small_pages.default_page_size = 3;
  response = Engine(small_pages).ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 3);
}

TEST_F(QueryEngineTest, ListFlowsLimitIsAnAliasOfPageSize) {
  weir::v1::ListFlowsRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.set_limit(7);
  absl::StatusOr<weir::v1::ListFlowsResponse> response =
      Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 7);
  request.set_page_size(7);
  response = Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->flows_size(), 7);
  request.set_page_size(8);
  EXPECT_THAT(ErrorOf(Engine().ListFlows(request)),
              StartsWith("limit: 7 differs from page_size 8"));
}

TEST_F(QueryEngineTest, ListFlowsAppliesEveryFilterKind) {
  const std::vector<Row> all = data_->Rows(kStart, kEnd);
  // A source port that occurs in the data.
  const auto with_port = std::find_if(
      all.begin(), all.end(), [](const Row& r) { return r.src_port != 0; });
  ASSERT_NE(with_port, all.end());
  const uint32_t some_src_port = with_port->src_port;

  const auto in = [](const char* cidr) {
    const Cidr block = *Cidr::Parse(cidr);
    return [block](const IpAddress& ip) { return block.Contains(ip); };
  };
  struct Case {
    std::string filter;
    std::function<bool(const Row&)> keep;
  };
  const std::vector<Case> cases = {
      {R"(node: "node-b")", [](const Row& r) { return r.node == "node-b"; }},
      {R"(node: "node-a" node: "node-c")",
       [](const Row& r) { return r.node == "node-a"; }},
      {R"(interface: "veth1a2b")",
       [](const Row& r) { return r.ifname == "veth1a2b"; }},
      {"direction: DIRECTION_INGRESS",
       [](const Row& r) { return r.direction == weir::v1::DIRECTION_INGRESS; }},
      {R"(protocol: "udp")", [](const Row& r) { return r.protocol == 17; }},
      {R"(protocol: "TCP" protocol: "1")",
       [](const Row& r) { return r.protocol == 6 || r.protocol == 1; }},
      {R"(protocol: "icmpv6")", [](const Row& r) { return r.protocol == 58; }},
      {R"(addr: "192.0.2.3" addr: "198.51.100.0/30")",
       [&](const Row& r) {
         return r.src.ToString() == "192.0.2.3" || in("198.51.100.0/30")(r.dst);
       }},
      {R"(src_addr: "192.0.2.0/30")",
       [&](const Row& r) { return in("192.0.2.0/30")(r.src); }},
      {R"(src_addr: "2001:db8::/120")",
       [&](const Row& r) { return in("2001:db8::/120")(r.src); }},
      {R"(dst_addr: "198.51.100.5" dst_addr: "2001:db8::60/125")",
       [&](const Row& r) {
         return r.dst.ToString() == "198.51.100.5" ||
                in("2001:db8::60/125")(r.dst);
       }},
      {"port: 53",
       [](const Row& r) { return r.src_port == 53 || r.dst_port == 53; }},
      {absl::StrCat("src_port: ", some_src_port),
       [&](const Row& r) { return r.src_port == some_src_port; }},
      {"dst_port: 443 dst_port: 80",
       [](const Row& r) { return r.dst_port == 443 || r.dst_port == 80; }},
      {R"(protocol: "tcp" direction: DIRECTION_EGRESS
          src_addr: "192.0.2.0/29" node: "node-a")",
       [&](const Row& r) {
         return r.protocol == 6 && r.direction == weir::v1::DIRECTION_EGRESS &&
                in("192.0.2.0/29")(r.src) && r.node == "node-a";
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.filter);
    weir::v1::ListFlowsRequest request;
    *request.mutable_range() = Range(kStart, kEnd);
    *request.mutable_filter() = Filter(c.filter);
    request.set_page_size(1000);
    const std::vector<std::string> expected =
        data_->Lines(kStart, kEnd, c.keep);
    EXPECT_GT(expected.size(), 0u);
    EXPECT_LT(expected.size(), all.size());
    const Walk walk = WalkAll(Engine(), request);
    ASSERT_TRUE(walk.status.ok()) << walk.status;
    EXPECT_EQ(walk.lines, expected);
  }
}

TEST_F(QueryEngineTest, PagesWalkEveryFlowOnceInOrder) {
  for (const std::string filter : {"", R"(protocol: "tcp")"}) {
    const std::vector<std::string> expected = data_->Lines(
        kStart, kEnd,
        filter.empty() ? std::function<bool(const Row&)>()
                       : [](const Row& r) { return r.protocol == 6; });
    for (int page_size : {1, 7, 1000}) {
      SCOPED_TRACE(absl::StrCat("filter {", filter, "} page_size ", page_size));
      weir::v1::ListFlowsRequest request;
      *request.mutable_range() = Range(kStart, kEnd);
      *request.mutable_filter() = Filter(filter);
      request.set_page_size(page_size);
      const Walk walk = WalkAll(Engine(), request);
      ASSERT_TRUE(walk.status.ok()) << walk.status;
      EXPECT_EQ(walk.lines, expected);
      // Every page but the last is full, and the last is not empty.
      const size_t pages = (expected.size() + page_size - 1) / page_size;
      ASSERT_EQ(walk.page_sizes.size(), pages);
      for (size_t i = 0; i + 1 < pages; ++i) {
        EXPECT_EQ(walk.page_sizes[i], page_size);
      }
      EXPECT_GT(walk.page_sizes.back(), 0);
    }
  }
}

TEST_F(QueryEngineTest, PageSizeMayChangeBetweenPages) {
  weir::v1::ListFlowsRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.set_page_size(5);
  std::vector<std::string> lines;
  int page_size = 5;
  for (;;) {
    absl::StatusOr<weir::v1::ListFlowsResponse> response =
        Engine().ListFlows(request);
    ASSERT_TRUE(response.ok()) << response.status();
    for (const weir::v1::Flow& flow : response->flows()) {
      lines.push_back(Line(flow));
    }
    if (response->next_page_token().empty()) break;
    request.set_page_token(response->next_page_token());
    page_size = page_size == 5 ? 300 : 5;
    request.clear_page_size();
    request.set_limit(page_size);
  }
  EXPECT_EQ(lines, data_->Lines(kStart, kEnd));
}

TEST_F(QueryEngineTest, PageTokenOfAnotherQueryIsRejected) {
  weir::v1::ListFlowsRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  *request.mutable_filter() = Filter(R"(protocol: "tcp")");
  request.set_page_size(3);
  absl::StatusOr<weir::v1::ListFlowsResponse> first =
      Engine().ListFlows(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(first->next_page_token(), "");

  weir::v1::ListFlowsRequest other = request;
  other.set_page_token(first->next_page_token());
  *other.mutable_filter() = Filter(R"(protocol: "udp")");
  EXPECT_THAT(ErrorOf(Engine().ListFlows(other)),
              StartsWith("page_token: does not belong to this query"));

  other = request;
  other.set_page_token(first->next_page_token());
  *other.mutable_range() = Range(kRawStart, kEnd);
  EXPECT_THAT(ErrorOf(Engine().ListFlows(other)),
              StartsWith("page_token: does not belong to this query"));

  other = request;
  other.set_page_token(first->next_page_token());
  other.clear_range();
  EXPECT_THAT(ErrorOf(Engine().ListFlows(other)),
              StartsWith("page_token: does not belong to this query"));

  // The same query with another page size is the same walk.
  other = request;
  other.set_page_token(first->next_page_token());
  other.set_page_size(1000);
  EXPECT_TRUE(Engine().ListFlows(other).ok());

  other.set_page_token("not a token");
  EXPECT_THAT(ErrorOf(Engine().ListFlows(other)),
              StartsWith("page_token: not a token of this API"));
  other.set_page_token(first->next_page_token().substr(0, 20));
  EXPECT_THAT(ErrorOf(Engine().ListFlows(other)), StartsWith("page_token: "));
}

TEST(QueryEnginePagingTest, PageTokenPinsTheWindow) {
  std::unique_ptr<store::Store> store = OpenStore("pins_the_window");
  ASSERT_NE(store, nullptr);
  Data data(store.get());
  const absl::Time now0 = At(3600);
  // Batches 70, 50, 40, 30, 20 and 10 minutes before now0.
  uint64_t seq = 1;
  for (int minutes : {70, 50, 40, 30, 20, 10}) {
    BatchSpec spec;
    spec.seq = seq++;
    spec.interval_start = now0 - absl::Minutes(minutes);
    spec.flows = 6;
    data.Write(MakeBatch(spec));
  }
  absl::Time now = now0;
  QueryEngineOptions options;
  options.clock = [&now] { return now; };
  QueryEngine engine(*store, options);

  weir::v1::ListFlowsRequest request;  // the last hour
  request.set_page_size(4);
  bool moved = false;
  const Walk walk = WalkAll(engine, request, [&] {
    if (moved) return;
    moved = true;
    // Half an hour later, new flows have arrived.
    now = now0 + absl::Minutes(30);
    BatchSpec spec;
    spec.seq = seq++;
    spec.interval_start = now0 + absl::Minutes(5);
    spec.flows = 6;
    data.Write(MakeBatch(spec));
  });
  ASSERT_TRUE(walk.status.ok()) << walk.status;
  EXPECT_EQ(walk.lines, data.Lines(now0 - absl::Hours(1), now0));
  EXPECT_EQ(walk.lines.size(), 30u);
}

TEST(QueryEngineFlowTest, ShowsEveryFieldOfAFlow) {
  std::unique_ptr<store::Store> store = OpenStore("shows_every_field");
  ASSERT_NE(store, nullptr);
  weir::v1::FlowBatch batch;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        node: "edge-1"
        epoch: 1
        seq: 1
        interval_start_unix_nano: 1700002800000000000
        interval_end_unix_nano: 1700002801000000000
        interfaces { ifindex: 3 name: "eth1" }
        flows {
          ifindex: 3
          direction: DIRECTION_EGRESS
          protocol: 6
          src_addr: "\x0a\x00\x00\x07"
          dst_addr: "\x08\x08\x08\x08"
          src_port: 51000
          dst_port: 443
          tcp_flags: 0x1b
          packets: 12
          bytes: 3400
          first_seen_unix_nano: 1700002800000000005
          last_seen_unix_nano: 1700002800250000000
        }
        flows {
          ifindex: 3
          direction: DIRECTION_INGRESS
          protocol: 58
          src_addr: "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
          dst_addr: "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
          icmp_type: 135
          icmp_code: 0
          fragment: true
          packets: 1
          bytes: 86
          first_seen_unix_nano: 1700002800100000000
          last_seen_unix_nano: 1700002800100000000
        }
        counters {
          packets_seen: 13
          bytes_seen: 3486
          packets_exported: 13
          bytes_exported: 3486
        }
      )pb",
      &batch));
  ASSERT_TRUE(store->WriteBatch(batch, At(2)).ok());
  QueryEngine engine(*store, ClockAt(At(60)));
  absl::StatusOr<weir::v1::ListFlowsResponse> response =
      engine.ListFlows(weir::v1::ListFlowsRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->flows_size(), 2);
  EXPECT_EQ(response->flows(0).ShortDebugString(),
            "key { node: \"edge-1\" ifindex: 3 ifname: \"eth1\" direction: "
            "DIRECTION_EGRESS ip_version: IP_VERSION_4 protocol: 6 src_addr: "
            "\"10.0.0.7\" dst_addr: \"8.8.8.8\" src_port: 51000 dst_port: 443 "
            "} packets: 12 bytes: 3400 first_seen { seconds: 1700002800 "
            "nanos: 5 } last_seen { seconds: 1700002800 nanos: 250000000 } "
            "tcp_flags: 27 src_class: ADDRESS_CLASS_PRIVATE dst_class: "
            "ADDRESS_CLASS_PUBLIC");
  EXPECT_EQ(response->flows(1).ShortDebugString(),
            "key { node: \"edge-1\" ifindex: 3 ifname: \"eth1\" direction: "
            "DIRECTION_INGRESS ip_version: IP_VERSION_6 protocol: 58 "
            "src_addr: \"fe80::1\" dst_addr: \"ff02::1\" icmp_type: 135 "
            "fragment: true } packets: 1 bytes: 86 first_seen { seconds: "
            "1700002800 nanos: 100000000 } last_seen { seconds: 1700002800 "
            "nanos: 100000000 } src_class: ADDRESS_CLASS_LINK_LOCAL "
            "dst_class: ADDRESS_CLASS_MULTICAST");
  EXPECT_EQ(response->losses().ShortDebugString(), "");
}

// --- TopTalkers -------------------------------------------------------------

struct Grouping {
  weir::v1::GroupBy group_by;
  const char* view;  // the view of the hour tier that answers it
};
constexpr Grouping kGroupings[] = {
    {weir::v1::GROUP_BY_SRC, "src"},
    {weir::v1::GROUP_BY_DST, "dst"},
    {weir::v1::GROUP_BY_PAIR, "pair"},
    {weir::v1::GROUP_BY_SRC_PORT, "src_port"},
    {weir::v1::GROUP_BY_DST_PORT, "dst_port"},
    {weir::v1::GROUP_BY_PROTOCOL, "protocol"},
    {weir::v1::GROUP_BY_NODE, "node"},
    {weir::v1::GROUP_BY_INTERFACE, "node"},
    {weir::v1::GROUP_BY_DIRECTION, "node"},
};

// The expected talkers, computed from the rows by brute force: grouped by
// a tuple of the grouping's fields, ranked by the metric, ties by that
// tuple (addresses by their bytes).
std::vector<std::string> ExpectedTalkers(const std::vector<Row>& rows,
                                         weir::v1::GroupBy group_by,
                                         weir::v1::OrderBy order_by,
                                         size_t limit) {
  using Key = std::tuple<IpAddress, IpAddress, uint32_t, uint32_t, std::string,
                         std::string, int>;
  std::map<Key, std::tuple<uint64_t, uint64_t, uint64_t>> groups;
  for (const Row& r : rows) {
    Key key;
    auto& [src, dst, protocol, port, node, ifname, direction] = key;
    switch (group_by) {
      case weir::v1::GROUP_BY_SRC:
        src = r.src;
        break;
      case weir::v1::GROUP_BY_DST:
        dst = r.dst;
        break;
      case weir::v1::GROUP_BY_PAIR:
        src = r.src;
        dst = r.dst;
        break;
      case weir::v1::GROUP_BY_SRC_PORT:
        protocol = r.protocol;
        port = r.src_port;
        break;
      case weir::v1::GROUP_BY_DST_PORT:
        protocol = r.protocol;
        port = r.dst_port;
        break;
      case weir::v1::GROUP_BY_PROTOCOL:
        protocol = r.protocol;
        break;
      case weir::v1::GROUP_BY_NODE:
        node = r.node;
        break;
      case weir::v1::GROUP_BY_INTERFACE:
        node = r.node;
        ifname = r.ifname;
        break;
      case weir::v1::GROUP_BY_DIRECTION:
        direction = r.direction;
        break;
      default:
        break;
    }
    auto& [bytes, packets, flows] = groups[key];
    bytes += r.bytes;
    packets += r.packets;
    flows += 1;
  }
  using Group = std::pair<Key, std::tuple<uint64_t, uint64_t, uint64_t>>;
  std::vector<Group> ranked(groups.begin(), groups.end());
  const auto metric = [order_by](const Group& g) {
    switch (order_by) {
      case weir::v1::ORDER_BY_PACKETS:
        return std::get<1>(g.second);
      case weir::v1::ORDER_BY_FLOWS:
        return std::get<2>(g.second);
      default:
        return std::get<0>(g.second);
    }
  };
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const Group& a, const Group& b) {
                     return metric(a) > metric(b);  // equal: map (key) order
                   });
  std::vector<std::string> out;
  for (const auto& [key, totals] : ranked) {
    if (out.size() == limit) break;
    const auto& [src, dst, protocol, port, node, ifname, direction] = key;
    weir::v1::Talker talker;
    switch (group_by) {
      case weir::v1::GROUP_BY_SRC:
        talker.set_src_addr(src.ToString());
        break;
      case weir::v1::GROUP_BY_DST:
        talker.set_dst_addr(dst.ToString());
        break;
      case weir::v1::GROUP_BY_PAIR:
        talker.set_src_addr(src.ToString());
        talker.set_dst_addr(dst.ToString());
        break;
      case weir::v1::GROUP_BY_SRC_PORT:
      case weir::v1::GROUP_BY_DST_PORT:
        talker.set_protocol(protocol);
        talker.set_port(port);
        break;
      case weir::v1::GROUP_BY_PROTOCOL:
        talker.set_protocol(protocol);
        break;
      case weir::v1::GROUP_BY_NODE:
        talker.set_node(node);
        break;
      case weir::v1::GROUP_BY_INTERFACE:
        talker.set_node(node);
        talker.set_ifname(ifname);
        break;
      case weir::v1::GROUP_BY_DIRECTION:
        talker.set_direction(static_cast<weir::v1::Direction>(direction));
        break;
      default:
        break;
    }
    talker.set_bytes(std::get<0>(totals));
    talker.set_packets(std::get<1>(totals));
    talker.set_flows(std::get<2>(totals));
    out.push_back(talker.ShortDebugString());
  }
  return out;
}

std::vector<std::string> Talkers(const weir::v1::TopTalkersResponse& r) {
  std::vector<std::string> out;
  for (const weir::v1::Talker& talker : r.talkers()) {
    out.push_back(talker.ShortDebugString());
  }
  return out;
}

TEST_F(QueryEngineTest, TopTalkersAnswersEveryGroupingAndOrder) {
  const std::vector<Row> rows = data_->Rows(kStart, kEnd);
  for (const Grouping& grouping : kGroupings) {
    for (weir::v1::OrderBy order_by :
         {weir::v1::ORDER_BY_UNSPECIFIED, weir::v1::ORDER_BY_BYTES,
          weir::v1::ORDER_BY_PACKETS, weir::v1::ORDER_BY_FLOWS}) {
      // From a second past the hour: the first second's minute from raw,
      // the rest of that hour from 1m, the second hour from 1h.
      for (const auto& [start, source] :
           {std::pair{kStart, absl::StrCat("1h/", grouping.view)},
            std::pair{kRawStart, absl::StrCat("1h/", grouping.view, "+1m/",
                                              grouping.view, "+raw")}}) {
        SCOPED_TRACE(absl::StrCat(weir::v1::GroupBy_Name(grouping.group_by),
                                  " ", weir::v1::OrderBy_Name(order_by), " ",
                                  source));
        weir::v1::TopTalkersRequest request;
        *request.mutable_range() = Range(start, kEnd);
        request.set_group_by(grouping.group_by);
        request.set_order_by(order_by);
        request.set_limit(1000);
        absl::StatusOr<weir::v1::TopTalkersResponse> response =
            Engine().TopTalkers(request);
        ASSERT_TRUE(response.ok()) << response.status();
        EXPECT_EQ(response->source(), source);
        const std::vector<std::string> expected =
            ExpectedTalkers(rows, grouping.group_by, order_by, 1000);
        EXPECT_GT(expected.size(), 1u);
        EXPECT_EQ(Talkers(*response), expected);
      }
    }
  }
}

TEST_F(QueryEngineTest, TopTalkersTotalsAreTheWindowsTotals) {
  uint64_t bytes = 0, packets = 0, flows = 0;
  for (const Row& row : data_->Rows(kStart, kEnd)) {
    bytes += row.bytes;
    packets += row.packets;
    flows += 1;
  }
  for (const Grouping& grouping : kGroupings) {
    weir::v1::TopTalkersRequest request;
    *request.mutable_range() = Range(kStart, kEnd);
    request.set_group_by(grouping.group_by);
    request.set_limit(1000);
    absl::StatusOr<weir::v1::TopTalkersResponse> response =
        Engine().TopTalkers(request);
    ASSERT_TRUE(response.ok()) << response.status();
    uint64_t b = 0, p = 0, f = 0;
    for (const weir::v1::Talker& t : response->talkers()) {
      b += t.bytes();
      p += t.packets();
      f += t.flows();
    }
    EXPECT_EQ(b, bytes) << weir::v1::GroupBy_Name(grouping.group_by);
    EXPECT_EQ(p, packets) << weir::v1::GroupBy_Name(grouping.group_by);
    EXPECT_EQ(f, flows) << weir::v1::GroupBy_Name(grouping.group_by);
  }
}

TEST_F(QueryEngineTest, TopTalkersOneTierAndSplitWindowsAgree) {
  // Minute tier: 5 minutes to 65 minutes, against the same flows read
  // through a window one second later at the start, which is split: its
  // first minute from raw, the rest from rollups.
  for (const Grouping& grouping : kGroupings) {
    for (const auto& [aligned, unaligned, tier, split_source] :
         {std::tuple{At(300), At(301), "1m/",
                     absl::StrCat("1m/", grouping.view, "+raw")},
          std::tuple{kStart, kRawStart, "1h/",
                     absl::StrCat("1h/", grouping.view, "+1m/", grouping.view,
                                  "+raw")}}) {
      const absl::Time end = aligned == kStart ? kEnd : At(3900);
      SCOPED_TRACE(
          absl::StrCat(weir::v1::GroupBy_Name(grouping.group_by), " ", tier));
      weir::v1::TopTalkersRequest request;
      request.set_group_by(grouping.group_by);
      request.set_limit(1000);
      *request.mutable_range() = Range(aligned, end);
      absl::StatusOr<weir::v1::TopTalkersResponse> rollup =
          Engine().TopTalkers(request);
      *request.mutable_range() = Range(unaligned, end);
      absl::StatusOr<weir::v1::TopTalkersResponse> split =
          Engine().TopTalkers(request);
      ASSERT_TRUE(rollup.ok()) << rollup.status();
      ASSERT_TRUE(split.ok()) << split.status();
      EXPECT_EQ(rollup->source(), absl::StrCat(tier, grouping.view));
      EXPECT_EQ(split->source(), split_source);
      EXPECT_FALSE(rollup->talkers().empty());
      EXPECT_EQ(Talkers(*rollup), Talkers(*split));
      EXPECT_EQ(rollup->losses().ShortDebugString(),
                split->losses().ShortDebugString());
    }
  }
}

TEST_F(QueryEngineTest, TopTalkersLimitKeepsTheBest) {
  const std::vector<Row> rows = data_->Rows(kStart, kEnd);
  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.set_group_by(weir::v1::GROUP_BY_SRC_PORT);
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Talkers(*response),
            ExpectedTalkers(rows, weir::v1::GROUP_BY_SRC_PORT,
                            weir::v1::ORDER_BY_BYTES, 10));
  request.set_limit(3);
  request.set_order_by(weir::v1::ORDER_BY_FLOWS);
  response = Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(Talkers(*response),
            ExpectedTalkers(rows, weir::v1::GROUP_BY_SRC_PORT,
                            weir::v1::ORDER_BY_FLOWS, 3));
}

TEST_F(QueryEngineTest, TopTalkersFilterOutsideEveryViewReadsRaw) {
  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.set_group_by(weir::v1::GROUP_BY_SRC);
  request.set_limit(1000);
  *request.mutable_filter() = Filter("dst_port: 443");
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "raw");
  EXPECT_EQ(Talkers(*response),
            ExpectedTalkers(
                data_->Rows(kStart, kEnd,
                            [](const Row& r) { return r.dst_port == 443; }),
                weir::v1::GROUP_BY_SRC, weir::v1::ORDER_BY_BYTES, 1000));

  // A filter the view keeps still reads the rollup.
  *request.mutable_filter() = Filter(R"(dst_addr: "198.51.100.0/29")");
  response = Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1h/pair");
  EXPECT_EQ(Talkers(*response),
            ExpectedTalkers(
                data_->Rows(kStart, kEnd,
                            [](const Row& r) {
                              return r.dst.is_ipv4() && r.dst.bytes()[15] <= 7;
                            }),
                weir::v1::GROUP_BY_SRC, weir::v1::ORDER_BY_BYTES, 1000));
}

TEST(QueryEngineTalkersTest, RanksHandMadeFlowsExactly) {
  std::unique_ptr<store::Store> store = OpenStore("hand_made_talkers");
  ASSERT_NE(store, nullptr);
  weir::v1::FlowBatch batch;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        node: "n"
        epoch: 1
        seq: 1
        interval_start_unix_nano: 1700002810000000000
        interval_end_unix_nano: 1700002811000000000
        interfaces { ifindex: 1 name: "eth0" }
        flows {
          ifindex: 1
          direction: DIRECTION_EGRESS
          protocol: 17
          src_addr: "\xc0\x00\x02\x01"
          dst_addr: "\xc6\x33\x64\x02"
          src_port: 1000
          dst_port: 53
          packets: 10
          bytes: 1000
          first_seen_unix_nano: 1700002810000000000
          last_seen_unix_nano: 1700002810000000000
        }
        flows {
          ifindex: 1
          direction: DIRECTION_EGRESS
          protocol: 17
          src_addr: "\xc0\x00\x02\x01"
          dst_addr: "\xc6\x33\x64\x03"
          src_port: 1001
          dst_port: 53
          packets: 20
          bytes: 500
          first_seen_unix_nano: 1700002810000000000
          last_seen_unix_nano: 1700002810000000000
        }
        flows {
          ifindex: 1
          direction: DIRECTION_EGRESS
          protocol: 17
          src_addr: "\xc0\x00\x02\x04"
          dst_addr: "\xc6\x33\x64\x02"
          src_port: 1002
          dst_port: 53
          packets: 5
          bytes: 700
          first_seen_unix_nano: 1700002810000000000
          last_seen_unix_nano: 1700002810000000000
        }
        flows {
          ifindex: 1
          direction: DIRECTION_EGRESS
          protocol: 17
          src_addr: "\xc0\x00\x02\x04"
          dst_addr: "\xc6\x33\x64\x02"
          src_port: 1003
          dst_port: 53
          packets: 1
          bytes: 100
          first_seen_unix_nano: 1700002810000000000
          last_seen_unix_nano: 1700002810000000000
        }
        counters {
          packets_seen: 36
          bytes_seen: 2300
          packets_exported: 36
          bytes_exported: 2300
        }
      )pb",
      &batch));
  ASSERT_TRUE(store->WriteBatch(batch, At(20)).ok());
  QueryEngine engine(*store, ClockAt(At(7200)));

  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kStart, At(3600));
  request.set_group_by(weir::v1::GROUP_BY_SRC);
  const std::vector<std::pair<weir::v1::OrderBy, std::vector<std::string>>>
      cases = {
          {weir::v1::ORDER_BY_BYTES,
           {R"(src_addr: "192.0.2.1" bytes: 1500 packets: 30 flows: 2)",
            R"(src_addr: "192.0.2.4" bytes: 800 packets: 6 flows: 2)"}},
          {weir::v1::ORDER_BY_PACKETS,
           {R"(src_addr: "192.0.2.1" bytes: 1500 packets: 30 flows: 2)",
            R"(src_addr: "192.0.2.4" bytes: 800 packets: 6 flows: 2)"}},
          // A tie: by address.
          {weir::v1::ORDER_BY_FLOWS,
           {R"(src_addr: "192.0.2.1" bytes: 1500 packets: 30 flows: 2)",
            R"(src_addr: "192.0.2.4" bytes: 800 packets: 6 flows: 2)"}},
      };
  for (const auto& [order_by, expected] : cases) {
    request.set_order_by(order_by);
    absl::StatusOr<weir::v1::TopTalkersResponse> response =
        engine.TopTalkers(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->source(), "1h/src");
    EXPECT_EQ(Talkers(*response), expected);
  }
  request.set_group_by(weir::v1::GROUP_BY_DST);
  request.set_order_by(weir::v1::ORDER_BY_PACKETS);
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      engine.TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(
      Talkers(*response),
      ElementsAre(
          R"(dst_addr: "198.51.100.3" bytes: 500 packets: 20 flows: 1)",
          R"(dst_addr: "198.51.100.2" bytes: 1800 packets: 16 flows: 3)"));
}

// --- TimeSeries -------------------------------------------------------------

struct Sums {
  uint64_t bytes = 0;
  uint64_t packets = 0;
};

// Expected points: rows by their last_seen, one point per step from start.
std::vector<Sums> ExpectedPoints(const std::vector<Row>& rows, absl::Time start,
                                 absl::Duration step, int64_t points) {
  std::vector<Sums> out(points);
  for (const Row& r : rows) {
    const int64_t i = (r.time() - start) / step;
    out[i].bytes += r.bytes;
    out[i].packets += r.packets;
  }
  return out;
}

std::vector<std::string> PointLines(const weir::v1::Series& series) {
  std::vector<std::string> out;
  for (const weir::v1::Point& p : series.points()) {
    out.push_back(absl::StrCat(p.bytes(), "B ", p.packets(), "p"));
  }
  return out;
}

std::vector<std::string> PointLines(const std::vector<Sums>& points) {
  std::vector<std::string> out;
  out.reserve(points.size());
  for (const Sums& p : points) {
    out.push_back(absl::StrCat(p.bytes, "B ", p.packets, "p"));
  }
  return out;
}

TEST_F(QueryEngineTest, TimeSeriesPointsSumToTheTotalsWithZeros) {
  const std::vector<Row> rows = data_->Rows(kStart, kEnd);
  for (const auto& [start, source] :
       {std::pair{kStart, "1m/protocol"}, std::pair{kRawStart, "raw"}}) {
    SCOPED_TRACE(source);
    weir::v1::TimeSeriesRequest request;
    *request.mutable_range() = Range(start, kEnd);
    request.mutable_step()->set_seconds(60);
    absl::StatusOr<weir::v1::TimeSeriesResponse> response =
        Engine().TimeSeries(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->source(), source);
    EXPECT_EQ(response->step().ShortDebugString(), "seconds: 60");
    ASSERT_EQ(response->series_size(), 1);
    const weir::v1::Series& series = response->series(0);
    ASSERT_EQ(series.points_size(), 120);
    uint64_t bytes = 0, packets = 0;
    int zeros = 0;
    for (int i = 0; i < series.points_size(); ++i) {
      const weir::v1::Point& point = series.points(i);
      EXPECT_EQ(point.time().seconds(), absl::ToUnixSeconds(start) + 60 * i);
      EXPECT_EQ(point.time().nanos(), 0);
      bytes += point.bytes();
      packets += point.packets();
      if (point.bytes() == 0) {
        ++zeros;
        EXPECT_EQ(point.packets(), 0u);
      }
    }
    uint64_t want_bytes = 0, want_packets = 0;
    for (const Row& r : rows) {
      want_bytes += r.bytes;
      want_packets += r.packets;
    }
    EXPECT_EQ(bytes, want_bytes);
    EXPECT_EQ(packets, want_packets);
    // No grouping: the group has no key fields, only the window's totals.
    EXPECT_EQ(series.group().ShortDebugString(),
              absl::StrCat("bytes: ", want_bytes, " packets: ", want_packets,
                           " flows: ", rows.size()));
    // A batch per node every 5 minutes: 3 of 5 minutes are empty.
    EXPECT_EQ(zeros, 72);
    EXPECT_EQ(PointLines(series),
              PointLines(ExpectedPoints(rows, start, absl::Minutes(1), 120)));
  }
}

TEST_F(QueryEngineTest, TimeSeriesDefaultStepIsNice) {
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->step().ShortDebugString(), "seconds: 300");
  EXPECT_EQ(response->source(), "1m/protocol");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(kStart, kEnd), kStart,
                                      absl::Minutes(5), 24)));

  // A day: hour steps, which the hour tier answers (30 min, the nice step
  // for 60 points, would need the minute tier).
  const absl::Time day_start = kEnd - absl::Hours(24);
  *request.mutable_range() = Range(day_start, kEnd);
  response = Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->step().ShortDebugString(), "seconds: 3600");
  EXPECT_EQ(response->source(), "1h/protocol");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(day_start, kEnd), day_start,
                                      absl::Hours(1), 24)));
  // Off the hour: still hour steps, counted from the epoch, so the first
  // point starts at the hour before the window and holds only its part.
  *request.mutable_range() = Range(day_start + absl::Minutes(1), kEnd);
  response = Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->step().ShortDebugString(), "seconds: 3600");
  EXPECT_EQ(response->source(), "1h/protocol+1m/protocol");
  ASSERT_EQ(response->series_size(), 1);
  ASSERT_EQ(response->series(0).points_size(), 24);
  EXPECT_EQ(response->series(0).points(0).time().seconds(),
            absl::ToUnixSeconds(day_start));
  EXPECT_EQ(
      PointLines(response->series(0)),
      PointLines(ExpectedPoints(data_->Rows(day_start + absl::Minutes(1), kEnd),
                                day_start, absl::Hours(1), 24)));

  // The default window, the last hour: one-minute steps.
  request.clear_range();
  response = Engine(ClockAt(At(3600))).TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->step().ShortDebugString(), "seconds: 60");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(response->series(0).points_size(), 60);
}

TEST_F(QueryEngineTest, TimeSeriesHourStepsReadTheHourTier) {
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.mutable_step()->set_seconds(3600);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1h/protocol");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(kStart, kEnd), kStart,
                                      absl::Hours(1), 2)));
}

TEST_F(QueryEngineTest, TimeSeriesLastPointIsCutAtTheEnd) {
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.mutable_step()->set_seconds(7 * 60);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1m/protocol");
  ASSERT_EQ(response->series_size(), 1);
  ASSERT_EQ(response->series(0).points_size(), 18);
  EXPECT_EQ(response->series(0).points(17).time().seconds(),
            kBase + 17 * 7 * 60);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(kStart, kEnd), kStart,
                                      absl::Minutes(7), 18)));
}

TEST_F(QueryEngineTest, TimeSeriesGroupsKeepTheLargest) {
  const std::vector<Row> rows = data_->Rows(kStart, kEnd);
  for (const auto& [start, source] :
       {std::pair{kStart, "1m/src"}, std::pair{kRawStart, "raw"}}) {
    SCOPED_TRACE(source);
    weir::v1::TimeSeriesRequest request;
    *request.mutable_range() = Range(start, kEnd);
    request.mutable_step()->set_seconds(600);
    request.set_group_by(weir::v1::GROUP_BY_SRC);
    request.set_limit(3);
    absl::StatusOr<weir::v1::TimeSeriesResponse> response =
        Engine().TimeSeries(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->source(), source);
    // The same groups, in the same order, as the top three talkers.
    const std::vector<std::string> top = ExpectedTalkers(
        rows, weir::v1::GROUP_BY_SRC, weir::v1::ORDER_BY_BYTES, 3);
    ASSERT_EQ(response->series_size(), 3);
    for (int i = 0; i < 3; ++i) {
      const weir::v1::Series& series = response->series(i);
      const std::string src = series.group().src_addr();
      // The grouping's field and the totals, nothing else.
      weir::v1::Talker key = series.group();
      key.clear_bytes();
      key.clear_packets();
      key.clear_flows();
      EXPECT_EQ(key.ShortDebugString(),
                absl::StrCat("src_addr: \"", src, "\""));
      EXPECT_THAT(top[i], StartsWith(key.ShortDebugString()));
      // The group's totals are its points' sums (the window's, so the
      // top talker's exactly where both cover the same window).
      uint64_t bytes = 0;
      uint64_t packets = 0;
      for (const weir::v1::Point& point : series.points()) {
        bytes += point.bytes();
        packets += point.packets();
      }
      EXPECT_GT(bytes, 0u);
      EXPECT_EQ(series.group().bytes(), bytes);
      EXPECT_EQ(series.group().packets(), packets);
      EXPECT_GT(series.group().flows(), 0u);
      if (start == kStart) EXPECT_EQ(series.group().ShortDebugString(), top[i]);
      EXPECT_EQ(PointLines(series),
                PointLines(ExpectedPoints(
                    data_->Rows(
                        kStart, kEnd,
                        [&](const Row& r) { return r.src.ToString() == src; }),
                    start, absl::Minutes(10), 12)));
    }
  }

  // Every node: both series, which add up to the whole.
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.mutable_step()->set_seconds(600);
  request.set_group_by(weir::v1::GROUP_BY_NODE);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1m/node");
  ASSERT_EQ(response->series_size(), 2);
  std::vector<Sums> sum(12);
  for (const weir::v1::Series& series : response->series()) {
    for (int i = 0; i < series.points_size(); ++i) {
      sum[i].bytes += series.points(i).bytes();
      sum[i].packets += series.points(i).packets();
    }
  }
  EXPECT_EQ(PointLines(sum),
            PointLines(ExpectedPoints(rows, kStart, absl::Minutes(10), 12)));
}

TEST_F(QueryEngineTest, TimeSeriesFilters) {
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  request.mutable_step()->set_seconds(600);
  *request.mutable_filter() = Filter(R"(node: "node-b" protocol: "udp")");
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  // Node and protocol are in no one view together.
  EXPECT_EQ(response->source(), "raw");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(kStart, kEnd,
                                                  [](const Row& r) {
                                                    return r.node == "node-b" &&
                                                           r.protocol == 17;
                                                  }),
                                      kStart, absl::Minutes(10), 12)));
}

TEST(QueryEngineWidenedTest, WindowsBeyondRawRetentionCountWholeBuckets) {
  // Raw keeps an hour: a window starting earlier, off the minute, is
  // answered by the minute tier widened to whole minutes.
  store::StoreOptions options;
  options.data_dir = store::ScratchDir("widened");
  options.sync_writes = false;
  options.retention.raw = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<store::Store>> store =
      store::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  Data data(store->get());
  uint64_t seq = 1;
  // Flows 17 s and 77 s into the hour; the window starts at 30 s.
  for (int64_t offset : {17, 77, 1817}) {
    BatchSpec spec;
    spec.seq = seq++;
    spec.interval_start = At(offset);
    spec.flows = 5;
    data.Write(MakeBatch(spec));
  }
  QueryEngine engine(**store, ClockAt(At(3 * 3600)));

  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(At(30), At(3600));
  request.mutable_step()->set_seconds(60);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      engine.TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1m/protocol");
  EXPECT_TRUE(response->inexact());
  ASSERT_EQ(response->series_size(), 1);
  const weir::v1::Series& series = response->series(0);
  ASSERT_EQ(series.points_size(), 60);  // 3570 s in steps of 60 s
  // The buckets at 0 s and 60 s both start before the second point: both
  // count in the first. The one at 1800 s counts in the point holding
  // 1800 s, the 30th (1770 s to 1830 s).
  const std::vector<Row> first = data.Rows(At(0), At(120));
  const std::vector<Row> later = data.Rows(At(1800), At(1860));
  Sums want_first, want_later;
  for (const Row& r : first) {
    want_first.bytes += r.bytes;
    want_first.packets += r.packets;
  }
  for (const Row& r : later) {
    want_later.bytes += r.bytes;
    want_later.packets += r.packets;
  }
  EXPECT_EQ(series.points(0).bytes(), want_first.bytes);
  EXPECT_EQ(series.points(0).packets(), want_first.packets);
  EXPECT_EQ(series.points(29).bytes(), want_later.bytes);
  EXPECT_EQ(series.points(29).packets(), want_later.packets);
  int zeros = 0;
  for (const weir::v1::Point& point : series.points()) {
    if (point.bytes() == 0) ++zeros;
  }
  EXPECT_EQ(zeros, 58);

  // TopTalkers counts the widened window too: all 15 flows.
  weir::v1::TopTalkersRequest top;
  *top.mutable_range() = Range(At(30), At(3600));
  top.set_group_by(weir::v1::GROUP_BY_NODE);
  absl::StatusOr<weir::v1::TopTalkersResponse> talkers = engine.TopTalkers(top);
  ASSERT_TRUE(talkers.ok()) << talkers.status();
  EXPECT_EQ(talkers->source(), "1m/node");
  EXPECT_TRUE(talkers->inexact());
  ASSERT_EQ(talkers->talkers_size(), 1);
  EXPECT_EQ(talkers->talkers(0).flows(), 15u);

  // The flows themselves are gone: ListFlows says its walk is not the
  // window's; a window raw still keeps is exact.
  weir::v1::ListFlowsRequest flows;
  *flows.mutable_range() = Range(At(30), At(3600));
  absl::StatusOr<weir::v1::ListFlowsResponse> listed = engine.ListFlows(flows);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->inexact());
  *flows.mutable_range() = Range(At(2 * 3600 + 30), At(3 * 3600));
  listed = engine.ListFlows(flows);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_FALSE(listed->inexact());
}

// A window 00:17:23 to 03:10:40 (after kBase) and one batch of node-a in
// each piece of its split, and just outside each edge. Every answer must be
// exactly the flows inside the window.
class QueryEngineSplitTest : public ::testing::Test {
 protected:
  // Offsets of the batches' one-second intervals, in seconds after kBase.
  static constexpr int64_t kBatchOffsets[] = {
      300,    // 00:05:00  the first hour, before the window
      1030,   // 00:17:10  the first minute, before the window
      1060,   // 00:17:40  the first minute, inside: raw
      1800,   // 00:30:00  the first hour, inside: 1m
      5400,   // 01:30:00  a whole hour: 1h
      7800,   // 02:10:00  a whole hour: 1h
      11100,  // 03:05:00  the last hour, inside: 1m
      11420,  // 03:10:20  the last minute, inside: raw
      11450,  // 03:10:50  the last minute, after the window
      12600,  // 03:30:00  the last hour, after the window
  };
  static constexpr int kFlowsPerBatch = 5;
  const absl::Time kWindowStart = At(1043);
  const absl::Time kWindowEnd = At(11440);

  void SetUp() override {
    store_ = OpenStore("split");
    ASSERT_NE(store_, nullptr);
    data_ = std::make_unique<Data>(store_.get());
    uint64_t seq = 1;
    for (int64_t offset : kBatchOffsets) {
      BatchSpec spec;
      spec.seq = seq;
      spec.interval_start = At(offset);
      spec.flows = kFlowsPerBatch;
      // A distinct bit per batch: the sum tells which batches counted.
      spec.map_full_packets = uint64_t{1} << seq;
      data_->Write(MakeBatch(spec));
      ++seq;
    }
  }

  QueryEngine Engine() const {
    return QueryEngine(*store_, ClockAt(At(5 * 3600)));
  }

  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Data> data_;
};

TEST_F(QueryEngineSplitTest, TopTalkersCountEveryPieceOnce) {
  const std::vector<Row> rows = data_->Rows(kWindowStart, kWindowEnd);
  // The six batches inside.
  ASSERT_EQ(rows.size(), 6u * kFlowsPerBatch);
  for (const auto& [group_by, view] :
       {std::pair{weir::v1::GROUP_BY_SRC, "src"},
        std::pair{weir::v1::GROUP_BY_PAIR, "pair"},
        std::pair{weir::v1::GROUP_BY_DST_PORT, "dst_port"}}) {
    SCOPED_TRACE(weir::v1::GroupBy_Name(group_by));
    weir::v1::TopTalkersRequest request;
    *request.mutable_range() = Range(kWindowStart, kWindowEnd);
    request.set_group_by(group_by);
    request.set_limit(1000);
    absl::StatusOr<weir::v1::TopTalkersResponse> response =
        Engine().TopTalkers(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->source(),
              absl::StrCat("1h/", view, "+1m/", view, "+raw"));
    EXPECT_FALSE(response->inexact());
    EXPECT_EQ(Talkers(*response),
              ExpectedTalkers(rows, group_by, weir::v1::ORDER_BY_BYTES, 1000));
  }

  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kWindowStart, kWindowEnd);
  request.set_group_by(weir::v1::GROUP_BY_NODE);
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1h/node+1m/node+raw");
  ASSERT_EQ(response->talkers_size(), 1);
  EXPECT_EQ(response->talkers(0).flows(), 6u * kFlowsPerBatch);
}

TEST_F(QueryEngineSplitTest, LossesCoverTheWholeWindow) {
  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kWindowStart, kWindowEnd);
  request.set_group_by(weir::v1::GROUP_BY_SRC);
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      Engine().TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  // Raw keeps no counters: the raw edges count the losses of their whole
  // minutes, so the batches at 00:17:10 and 03:10:50 count too (bits 2 to
  // 9), and nothing is counted twice.
  EXPECT_EQ(response->losses().packets(), 0x3fcu);
  EXPECT_EQ(response->losses().ShortDebugString(),
            data_->Losses(At(1020), At(11460)));
}

TEST_F(QueryEngineSplitTest, DefaultStepPointsFallOnBucketEdges) {
  // 2 h 53 min: 5 min steps from 00:15, the first and last points partial.
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(kWindowStart, kWindowEnd);
  request.set_group_by(weir::v1::GROUP_BY_SRC);
  request.set_limit(100);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->step().ShortDebugString(), "seconds: 300");
  EXPECT_EQ(response->source(), "1m/src+raw");
  EXPECT_FALSE(response->inexact());
  const std::vector<Row> rows = data_->Rows(kWindowStart, kWindowEnd);
  ASSERT_EQ(response->series_size(),
            static_cast<int>(ExpectedTalkers(rows, weir::v1::GROUP_BY_SRC,
                                             weir::v1::ORDER_BY_BYTES, 100)
                                 .size()));
  for (const weir::v1::Series& series : response->series()) {
    SCOPED_TRACE(series.group().src_addr());
    ASSERT_EQ(series.points_size(), 36);
    EXPECT_EQ(series.points(0).time().seconds(), kBase + 900);
    EXPECT_EQ(PointLines(series),
              PointLines(
                  ExpectedPoints(data_->Rows(kWindowStart, kWindowEnd,
                                             [&](const Row& r) {
                                               return r.src.ToString() ==
                                                      series.group().src_addr();
                                             }),
                                 At(900), absl::Minutes(5), 36)));
  }
}

TEST_F(QueryEngineSplitTest, TimeSeriesSplitsOnlyAtPointBoundaries) {
  // Hour steps from a whole hour: 1h for three points, then 1m and raw for
  // the last, cut at the end.
  weir::v1::TimeSeriesRequest request;
  *request.mutable_range() = Range(At(0), kWindowEnd);
  request.mutable_step()->set_seconds(3600);
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1h/protocol+1m/protocol+raw");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(At(0), kWindowEnd), At(0),
                                      absl::Hours(1), 4)));

  // From 00:17:00 the points' boundaries are inside hour buckets: 1m and
  // raw only.
  *request.mutable_range() = Range(At(1020), kWindowEnd);
  response = Engine().TimeSeries(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->source(), "1m/protocol+raw");
  ASSERT_EQ(response->series_size(), 1);
  EXPECT_EQ(PointLines(response->series(0)),
            PointLines(ExpectedPoints(data_->Rows(At(1020), kWindowEnd),
                                      At(1020), absl::Hours(1), 3)));
}

// --- Losses -----------------------------------------------------------------

TEST_F(QueryEngineTest, AnswersCarryTheLossesOfTheirWindow) {
  const std::string expected = data_->Losses(kStart, kEnd);
  ASSERT_THAT(expected, StartsWith("nodes { node: \"node-a\" losses { "
                                   "reason: LOSS_REASON_NON_IP"));
  for (const absl::Time start : {kStart, kRawStart}) {
    weir::v1::ListFlowsRequest flows;
    *flows.mutable_range() = Range(start, kEnd);
    absl::StatusOr<weir::v1::ListFlowsResponse> listed =
        Engine().ListFlows(flows);
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->losses().ShortDebugString(), expected);

    weir::v1::TopTalkersRequest top;
    *top.mutable_range() = Range(start, kEnd);
    top.set_group_by(weir::v1::GROUP_BY_PAIR);
    absl::StatusOr<weir::v1::TopTalkersResponse> talkers =
        Engine().TopTalkers(top);
    ASSERT_TRUE(talkers.ok()) << talkers.status();
    EXPECT_EQ(talkers->losses().ShortDebugString(), expected);

    weir::v1::TimeSeriesRequest series;
    *series.mutable_range() = Range(start, kEnd);
    absl::StatusOr<weir::v1::TimeSeriesResponse> points =
        Engine().TimeSeries(series);
    ASSERT_TRUE(points.ok()) << points.status();
    EXPECT_EQ(points->losses().ShortDebugString(), expected);
  }

  // Half the window: only its batches' losses.
  weir::v1::TopTalkersRequest top;
  *top.mutable_range() = Range(kStart, At(3600));
  top.set_group_by(weir::v1::GROUP_BY_SRC);
  absl::StatusOr<weir::v1::TopTalkersResponse> talkers =
      Engine().TopTalkers(top);
  ASSERT_TRUE(talkers.ok()) << talkers.status();
  EXPECT_EQ(talkers->losses().ShortDebugString(),
            data_->Losses(kStart, At(3600)));
  EXPECT_NE(talkers->losses().ShortDebugString(), expected);
}

TEST_F(QueryEngineTest, LossesFollowTheNodeFilter) {
  weir::v1::ListFlowsRequest request;
  *request.mutable_range() = Range(kStart, kEnd);
  *request.mutable_filter() = Filter(R"(node: "node-b")");
  absl::StatusOr<weir::v1::ListFlowsResponse> response =
      Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->losses().nodes(), IsEmpty());
  EXPECT_EQ(response->losses().packets(), 0u);

  *request.mutable_filter() = Filter(R"(node: "node-a" node: "node-b")");
  response = Engine().ListFlows(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->losses().ShortDebugString(),
            data_->Losses(kStart, kEnd, "node-a"));
  EXPECT_GT(response->losses().packets(), 0u);
}

TEST(QueryEngineLossTest, NoLossesGiveAnEmptySummary) {
  std::unique_ptr<store::Store> store = OpenStore("no_losses");
  ASSERT_NE(store, nullptr);
  Data data(store.get());
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    BatchSpec spec;
    spec.seq = seq;
    spec.interval_start = At(seq * 600);
    data.Write(MakeBatch(spec));
  }
  QueryEngine engine(*store, ClockAt(At(7200)));
  weir::v1::TopTalkersRequest request;
  *request.mutable_range() = Range(kStart, At(3600));
  request.set_group_by(weir::v1::GROUP_BY_NODE);
  absl::StatusOr<weir::v1::TopTalkersResponse> response =
      engine.TopTalkers(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->talkers_size(), 1);
  EXPECT_THAT(response->losses().nodes(), IsEmpty());
  EXPECT_EQ(response->losses().packets(), 0u);
}

// --- ListNodes --------------------------------------------------------------

TEST_F(QueryEngineTest, ListNodesReportsStateAndConnection) {
  QueryEngineOptions options;
  options.is_connected = [](const std::string& node) {
    return node == "node-b";
  };
  QueryEngine engine = Engine(options);
  absl::StatusOr<weir::v1::ListNodesResponse> response =
      engine.ListNodes(weir::v1::ListNodesRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->nodes_size(), 2);

  uint64_t seen[2] = {0, 0}, exported[2] = {0, 0}, map_full = 0, non_ip = 0;
  for (const weir::v1::FlowBatch& batch : data_->batches()) {
    const int i = batch.node() == "node-a" ? 0 : 1;
    seen[i] += batch.counters().packets_seen();
    exported[i] += batch.counters().packets_exported();
    for (const weir::v1::LossCount& loss : batch.counters().losses()) {
      (loss.reason() == weir::v1::LOSS_REASON_MAP_FULL ? map_full : non_ip) +=
          loss.packets();
    }
  }
  const weir::v1::Node& a = response->nodes(0);
  EXPECT_EQ(a.name(), "node-a");
  EXPECT_EQ(a.version(), "test-1.0");
  EXPECT_EQ(a.epoch(), 1u);
  EXPECT_EQ(a.last_seq(), 26u);
  EXPECT_EQ(a.gaps(), 0u);
  EXPECT_FALSE(a.connected());
  // Its last batch (seq 26) arrived 1.1 s after its interval started.
  EXPECT_EQ(a.last_seen().seconds(), kBase + 2 * 3600 + 17 + 1);
  EXPECT_EQ(a.last_seen().nanos(), 100000000);
  EXPECT_EQ(a.counters().packets_seen(), seen[0]);
  EXPECT_EQ(a.counters().packets_exported(), exported[0]);
  ASSERT_EQ(a.counters().losses_size(), 2);
  EXPECT_EQ(a.counters().losses(0).reason(), weir::v1::LOSS_REASON_NON_IP);
  EXPECT_EQ(a.counters().losses(0).packets(), non_ip);
  EXPECT_EQ(a.counters().losses(1).reason(), weir::v1::LOSS_REASON_MAP_FULL);
  EXPECT_EQ(a.counters().losses(1).packets(), map_full);

  const weir::v1::Node& b = response->nodes(1);
  EXPECT_EQ(b.name(), "node-b");
  EXPECT_EQ(b.last_seq(), 24u);
  EXPECT_TRUE(b.connected());
  EXPECT_EQ(b.counters().packets_seen(), seen[1]);
  EXPECT_EQ(b.counters().packets_seen(), b.counters().packets_exported());
  EXPECT_EQ(b.counters().losses_size(), 0);

  // Without a connection callback nobody is connected.
  response = Engine().ListNodes(weir::v1::ListNodesRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->nodes(1).connected());
}

// --- Validation -------------------------------------------------------------

TEST_F(QueryEngineTest, ListFlowsNamesTheBadField) {
  const auto request = [](const std::string& text) {
    weir::v1::ListFlowsRequest r;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r))
        << text;
    return r;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"range { start { seconds: 1700000000 nanos: -1 } }",
       "range.start: nanos -1 is outside 0..999999999"},
      {"range { end { seconds: 1700000000 nanos: 1000000000 } }",
       "range.end: nanos 1000000000 is outside 0..999999999"},
      {"range { start { seconds: -1 } }",
       "range.start: 1969-12-31T23:59:59+00:00 is before the Unix epoch"},
      {"range { end { seconds: 100000000000 } }",
       "range.end: 5138-11-16T09:46:40+00:00 is after 2262-04-11"},
      {"range { start { seconds: 1700000000 } end { seconds: 1700000000 } }",
       "range.start: 2023-11-14T22:13:20+00:00 must be before range.end "
       "2023-11-14T22:13:20+00:00"},
      {"range { start { seconds: 1800000000 } }",
       "range.start: 2027-01-15T08:00:00+00:00 must be before range.end "
       "2023-11-15T02:00:00+00:00 (unset: now)"},
      {R"(filter { src_addr: "300.1.1.1" })", "filter.src_addr[0]: "},
      {R"(filter { protocol: "tcp" protocol: "bogus" })",
       "filter.protocol[1]: "},
      {"filter { dst_port: 0 }", "filter.dst_port[0]: "},
      {"filter { direction: 7 }", "filter.direction: "},
      {"page_size: -1", "page_size: -1 must not be negative"},
      {"page_size: 5000", "page_size: 5000 is above the maximum 1000"},
      {"limit: 5000", "limit: 5000 is above the maximum 1000"},
      {"page_size: 5 limit: 6", "limit: 6 differs from page_size 5"},
      {R"(page_token: "%%%")", "page_token: not a token of this API"},
  };
  for (const auto& [text, error] : cases) {
    EXPECT_THAT(ErrorOf(Engine().ListFlows(request(text))), StartsWith(error))
        << text;
  }
  // A smaller configured maximum.
  QueryEngineOptions small_maximum;
  small_maximum.max_page_size = 50;
  EXPECT_THAT(ErrorOf(Engine(small_maximum).ListFlows(request("limit: 51"))),
              StartsWith("limit: 51 is above the maximum 50"));
}

TEST_F(QueryEngineTest, TopTalkersNamesTheBadField) {
  const auto request = [](const std::string& text) {
    weir::v1::TopTalkersRequest r;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r))
        << text;
    return r;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "group_by: required; use GROUP_BY_SRC, GROUP_BY_DST, "},
      {"group_by: 99", "group_by: unknown value 99"},
      {"group_by: GROUP_BY_SRC order_by: 42", "order_by: unknown value 42"},
      {"group_by: GROUP_BY_SRC limit: -1", "limit: -1 must not be negative"},
      {"group_by: GROUP_BY_SRC limit: 1001",
       "limit: 1001 is above the maximum 1000"},
      {"group_by: GROUP_BY_SRC range { end { nanos: -5 } }",
       "range.end: nanos -5"},
      {R"(group_by: GROUP_BY_SRC filter { addr: "10.0.0.1/8" })",
       "filter.addr[0]: "},
  };
  for (const auto& [text, error] : cases) {
    EXPECT_THAT(ErrorOf(Engine().TopTalkers(request(text))), StartsWith(error))
        << text;
  }
}

TEST_F(QueryEngineTest, TimeSeriesNamesTheBadField) {
  const auto request = [](const std::string& text) {
    weir::v1::TimeSeriesRequest r;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &r))
        << text;
    *r.mutable_range() = Range(kStart, kEnd);
    return r;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"step { nanos: 500000000 }", "step: 500ms is below the minimum 1s"},
      {"step { seconds: -5 }", "step: -5s must be positive"},
      {"step { seconds: 1 nanos: -1 }",
       "step: seconds 1 and nanos -1 must have the same sign"},
      {"step { seconds: 1 }",
       "step: 1s gives 7200 points over the 2h window; at most 1000 per "
       "series (use a step of at least 8s)"},
      {"group_by: 77", "group_by: unknown value 77"},
      {"limit: 5", "limit: 5 applies only with group_by"},
      {"group_by: GROUP_BY_DST limit: 101",
       "limit: 101 is above the maximum 100"},
      {"group_by: GROUP_BY_DST limit: -2", "limit: -2 must not be negative"},
      {R"(filter { interface: "" })", "filter.interface[0]: "},
  };
  for (const auto& [text, error] : cases) {
    EXPECT_THAT(ErrorOf(Engine().TimeSeries(request(text))), StartsWith(error))
        << text;
  }
  // Exactly 1000 points is allowed.
  weir::v1::TimeSeriesRequest ok = request("step { seconds: 8 }");
  *ok.mutable_range() = Range(kStart, At(8000));
  absl::StatusOr<weir::v1::TimeSeriesResponse> response =
      Engine().TimeSeries(ok);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->series(0).points_size(), 1000);
}

}  // namespace
}  // namespace weir::query
