#include "queryd/metrics/ip_top_k.h"

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace weir::queryd::metrics {
namespace {

using Key = std::tuple<std::string, std::string, std::string>;

store::FlowRecord Flow(
    uint8_t src, uint8_t dst, uint64_t bytes,
    weir::v1::Direction direction = weir::v1::DIRECTION_EGRESS) {
  store::FlowRecord flow;
  // 192.0.2.src -> 198.51.100.dst, IPv4-mapped.
  flow.src_addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, src};
  flow.dst_addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, dst};
  flow.direction = direction;
  flow.bytes = bytes;
  return flow;
}

std::map<Key, uint64_t> AsMap(const std::vector<IpTopK::Series>& series) {
  std::map<Key, uint64_t> out;
  for (const IpTopK::Series& s : series) {
    out[{s.src_ip, s.dst_ip, s.direction}] = s.bytes;
  }
  return out;
}

uint64_t Sum(const std::vector<IpTopK::Series>& series) {
  uint64_t sum = 0;
  for (const IpTopK::Series& s : series) sum += s.bytes;
  return sum;
}

TEST(IpTopKTest, KeepsTheHeaviestPairsAndTheExactRemainder) {
  IpTopK top(2);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  top.Add(Flow(1, 1, 500));
  top.Add(Flow(2, 2, 300));
  top.Add(Flow(3, 3, 100));
  top.Add(Flow(1, 1, 100, weir::v1::DIRECTION_INGRESS));
  const std::vector<IpTopK::Series> series = top.Settle(t0);
  EXPECT_EQ(Sum(series), 1000u);
  EXPECT_EQ(Sum(series), top.total_bytes());
  std::map<Key, uint64_t> m = AsMap(series);
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ((m[{"192.0.2.1", "198.51.100.1", "egress"}]), 500u);
  EXPECT_EQ((m[{"192.0.2.2", "198.51.100.2", "egress"}]), 300u);
  EXPECT_EQ((m[{"other", "other", "egress"}]), 100u);
  EXPECT_EQ((m[{"other", "other", "ingress"}]), 100u);
  // ip_type is the remote side's class: documentation ranges here.
  EXPECT_EQ(series[0].ip_type, "documentation");
  EXPECT_EQ(series[0].src_ip, "192.0.2.1");
}

TEST(IpTopKTest, SeriesNeverDecreaseAndAlwaysSumToTheTotal) {
  IpTopK top(2);
  absl::Time now = absl::FromUnixSeconds(1000);
  std::map<Key, uint64_t> last;
  uint64_t total = 0;
  // Rounds in which different pairs are heavy, so the set changes.
  for (int round = 0; round < 30; ++round) {
    for (uint8_t pair = 1; pair <= 6; ++pair) {
      const uint64_t bytes = (pair + round) % 6 == 0 ? 10000 : pair * 10;
      top.Add(Flow(pair, pair, bytes));
      total += bytes;
    }
    now += absl::Seconds(15);
    const std::vector<IpTopK::Series> series = top.Settle(now);
    EXPECT_EQ(Sum(series), total) << round;
    // At most k pairs plus the two remainder series.
    EXPECT_LE(series.size(), 4u);
    std::map<Key, uint64_t> current = AsMap(series);
    for (const auto& [key, value] : current) {
      auto it = last.find(key);
      if (it != last.end()) {
        EXPECT_GE(value, it->second) << std::get<0>(key) << " " << round;
      }
    }
    const Key other{"other", "other", "egress"};
    EXPECT_GE(current[other], last[other]);
    last = current;
  }
}

TEST(IpTopKTest, TrackedPairsResistOneBurstOfANewPair) {
  IpTopK top(1);
  absl::Time now = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 5; ++i) {
    top.Add(Flow(1, 1, 1000));
    now += absl::Seconds(10);
    top.Settle(now);
  }
  // The incumbent's score is its decayed history plus this round; a
  // newcomer slightly heavier than this round alone does not displace it.
  top.Add(Flow(1, 1, 1000));
  top.Add(Flow(2, 2, 1500));
  now += absl::Seconds(10);
  std::map<Key, uint64_t> m = AsMap(top.Settle(now));
  EXPECT_EQ((m[{"192.0.2.1", "198.51.100.1", "egress"}]), 6000u);
  EXPECT_EQ((m[{"other", "other", "egress"}]), 1500u);
  EXPECT_EQ(m.count({"192.0.2.2", "198.51.100.2", "egress"}), 0u);
}

TEST(IpTopKTest, ZeroKeepsOnlyTheRemainder) {
  IpTopK top(0);
  top.Add(Flow(1, 1, 7));
  std::map<Key, uint64_t> m = AsMap(top.Settle(absl::FromUnixSeconds(1)));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ((m[{"other", "other", "egress"}]), 7u);
  EXPECT_EQ((m[{"other", "other", "ingress"}]), 0u);
}

TEST(IpTopKTest, AFullCandidateTableSendsBytesToTheRemainder) {
  IpTopK top(10, /*candidates=*/2);
  for (uint8_t i = 1; i <= 5; ++i) top.Add(Flow(i, i, 100));
  const std::vector<IpTopK::Series> series =
      top.Settle(absl::FromUnixSeconds(1));
  EXPECT_EQ(Sum(series), 500u);
  std::map<Key, uint64_t> m = AsMap(series);
  EXPECT_EQ((m[{"other", "other", "egress"}]), 300u);
  EXPECT_EQ((m[{"192.0.2.1", "198.51.100.1", "egress"}]), 100u);
}

}  // namespace
}  // namespace weir::queryd::metrics
