#include "queryd/store/derived_views.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rollup_block.h"

namespace weir::store {
namespace {

constexpr uint64_t kNs = 1000000000;
// 2026-01-01 00:00:00 UTC, an hour start.
constexpr uint64_t kHour = 1767225600;
constexpr Cutoffs kKeepAll = {0, 0, 0};

Address V4(uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, d};
}

FlowRecord Flow(uint64_t last_seen_sec, uint8_t src, uint8_t dst,
                uint8_t protocol, uint16_t src_port, uint16_t dst_port,
                uint64_t bytes) {
  FlowRecord flow;
  flow.ifname = "veth0";
  flow.direction = weir::v1::DIRECTION_INGRESS;
  flow.protocol = protocol;
  flow.src_addr = V4(src);
  flow.dst_addr = V4(dst);
  flow.src_port = src_port;
  flow.dst_port = dst_port;
  flow.packets = 1;
  flow.bytes = bytes;
  flow.first_seen_unix_nano = last_seen_sec * kNs;
  flow.last_seen_unix_nano = last_seen_sec * kNs;
  return flow;
}

// A view entry as the sink got it, in words: "1m/src 192.0.2.1 @60".
std::string Name(Tier tier, uint64_t bucket, const RollupKey& key) {
  const auto addr = [](const Address& a) {
    return absl::StrCat(a[12], ".", a[13], ".", a[14], ".", a[15]);
  };
  std::string what;
  switch (key.view) {
    case View::kSrc:
      what = absl::StrCat("src ", addr(key.src_addr));
      break;
    case View::kDst:
      what = absl::StrCat("dst ", addr(key.dst_addr));
      break;
    case View::kPair:
      what = absl::StrCat("pair ", addr(key.src_addr), ">", addr(key.dst_addr));
      break;
    case View::kSrcPort:
      what = absl::StrCat("sport ", key.protocol, "/", key.port);
      break;
    case View::kDstPort:
      what = absl::StrCat("dport ", key.protocol, "/", key.port);
      break;
    case View::kProtocol:
      what = absl::StrCat("proto ", key.protocol);
      break;
    case View::kNode:
      what = absl::StrCat("node ", key.node_id, "/", key.direction, "/",
                          key.ifname);
      break;
    case View::kNodeCounters:
      what = "counters";
      break;
  }
  return absl::StrCat(TierName(tier), " ", what, " @", bucket - kHour);
}

// Bytes and flows of every entry the views hand out, by Name. Fails the
// test on a block that does not decode, on one of a bucket before its
// tier's cutoff, and on a (tier, bucket, view, shard) given twice.
struct Collected {
  std::map<std::string, std::pair<uint64_t, uint64_t>> entries;
  std::set<std::tuple<Tier, uint64_t, View, uint16_t>> blocks;
};

Collected Collect(DerivedViews& views, const Cutoffs& cutoff_sec,
                  uint64_t hour_end_sec) {
  Collected got;
  views.Append(
      cutoff_sec, hour_end_sec,
      [&](Tier tier, absl::string_view block_key, absl::string_view value) {
        BlockKey key;
        ASSERT_TRUE(DecodeBlockKey(block_key, &key));
        EXPECT_GE(key.bucket_start_sec, cutoff_sec[static_cast<int>(tier)]);
        EXPECT_TRUE(
            got.blocks.insert({tier, key.bucket_start_sec, key.view, key.shard})
                .second);
        RollupBlock block;
        ASSERT_TRUE(block.Parse(value));
        for (size_t i = 0; i < block.size(); ++i) {
          EXPECT_EQ(ShardOf(key.view, block.key(i)), key.shard);
          if (i > 0) {
            EXPECT_TRUE(KeyLess(block.key(i - 1), block.key(i)));
          }
          RollupKey rollup;
          ASSERT_TRUE(DecodeViewKey(key.view, block.key(i), &rollup));
          const std::string name = Name(tier, key.bucket_start_sec, rollup);
          EXPECT_EQ(got.entries.count(name), 0u) << name;
          got.entries[name] = {block.totals(i).bytes, block.totals(i).flows};
        }
      });
  return got;
}

using Expected = std::map<std::string, std::pair<uint64_t, uint64_t>>;

TEST(DerivedViewsTest, OneFlowFeedsEveryViewOfBothTiers) {
  RollupBuffer buffer;
  AddFlow(Flow(kHour + 70, 1, 2, 6, 40000, 443, 1500), 5, kKeepAll, &buffer);
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  // The hour is closed (its end is past it): h1 gets it from m1.
  const Collected got = Collect(views, kKeepAll, kHour + 3600);
  const Expected want = {
      {"1m src 192.0.2.1 @60", {1500, 1}},
      {"1m dst 192.0.2.2 @60", {1500, 1}},
      {"1m pair 192.0.2.1>192.0.2.2 @60", {1500, 1}},
      {"1m sport 6/40000 @60", {1500, 1}},
      {"1m dport 6/443 @60", {1500, 1}},
      {"1m proto 6 @60", {1500, 1}},
      {"1m node 5/1/veth0 @60", {1500, 1}},
      {"1h src 192.0.2.1 @0", {1500, 1}},
      {"1h dst 192.0.2.2 @0", {1500, 1}},
      {"1h pair 192.0.2.1>192.0.2.2 @0", {1500, 1}},
      {"1h sport 6/40000 @0", {1500, 1}},
      {"1h dport 6/443 @0", {1500, 1}},
      {"1h proto 6 @0", {1500, 1}},
      {"1h node 5/1/veth0 @0", {1500, 1}},
  };
  EXPECT_EQ(got.entries, want);
}

TEST(DerivedViewsTest, DerivedViewsSumTheirBaseEntries) {
  RollupBuffer buffer;
  // Two flows from .1 (to .2 and .3), one from .3 to .2, in one minute;
  // TCP from two source ports, UDP from a third.
  AddFlow(Flow(kHour + 1, 1, 2, 6, 1000, 80, 100), 1, kKeepAll, &buffer);
  AddFlow(Flow(kHour + 2, 1, 3, 6, 1001, 80, 200), 1, kKeepAll, &buffer);
  AddFlow(Flow(kHour + 3, 3, 2, 17, 53, 53, 400), 1, kKeepAll, &buffer);
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  // The hour is open: m1 only.
  const Collected got = Collect(views, kKeepAll, kHour);
  const Expected want = {
      {"1m src 192.0.2.1 @0", {300, 2}},
      {"1m src 192.0.2.3 @0", {400, 1}},
      {"1m dst 192.0.2.2 @0", {500, 2}},
      {"1m dst 192.0.2.3 @0", {200, 1}},
      {"1m pair 192.0.2.1>192.0.2.2 @0", {100, 1}},
      {"1m pair 192.0.2.1>192.0.2.3 @0", {200, 1}},
      {"1m pair 192.0.2.3>192.0.2.2 @0", {400, 1}},
      {"1m sport 6/1000 @0", {100, 1}},
      {"1m sport 6/1001 @0", {200, 1}},
      {"1m sport 17/53 @0", {400, 1}},
      {"1m dport 6/80 @0", {300, 2}},
      {"1m dport 17/53 @0", {400, 1}},
      {"1m proto 6 @0", {300, 2}},
      {"1m proto 17 @0", {400, 1}},
      {"1m node 1/1/veth0 @0", {700, 3}},
  };
  EXPECT_EQ(got.entries, want);
}

TEST(DerivedViewsTest, MinutesOfAClosedHourSumIntoOneHourEntry) {
  RollupBuffer buffer;
  // One key in three minutes of the first hour and one of the next.
  for (uint64_t minute : {0, 10, 59, 60}) {
    AddFlow(Flow(kHour + minute * 60 + 5, 1, 2, 6, 1, 2, 10 + minute), 1,
            kKeepAll, &buffer);
  }
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  // The first hour is closed, the second not.
  const Collected got = Collect(views, kKeepAll, kHour + 3600);
  EXPECT_EQ(got.entries.at("1h src 192.0.2.1 @0"),
            std::make_pair(uint64_t{10 + 20 + 69}, uint64_t{3}));
  EXPECT_EQ(got.entries.count("1h src 192.0.2.1 @3600"), 0u);
  EXPECT_EQ(got.entries.at("1m src 192.0.2.1 @3600"),
            std::make_pair(uint64_t{70}, uint64_t{1}));
  EXPECT_EQ(got.entries.at("1m src 192.0.2.1 @600"),
            std::make_pair(uint64_t{20}, uint64_t{1}));
}

TEST(DerivedViewsTest, HourOnlySumsMergeWithClosedMinutes) {
  // A flow m1 no longer keeps comes by hour; one m1 keeps by minute; both
  // in the same hour and key.
  const Cutoffs cutoff = {0, kHour + 600, 0};
  RollupBuffer buffer;
  EXPECT_TRUE(AddFlow(Flow(kHour + 5, 1, 2, 6, 1, 2, 100), 1, cutoff, &buffer));
  EXPECT_TRUE(
      AddFlow(Flow(kHour + 605, 1, 2, 6, 1, 2, 50), 1, cutoff, &buffer));
  ASSERT_EQ(buffer.hour_only.pair.size(), 1u);
  ASSERT_EQ(buffer.minute.pair.size(), 1u);
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  views.Add(buffer.hour_only, Tier::kHour);
  const Collected got = Collect(views, cutoff, kHour + 3600);
  EXPECT_EQ(got.entries.at("1h pair 192.0.2.1>192.0.2.2 @0"),
            std::make_pair(uint64_t{150}, uint64_t{2}));
  EXPECT_EQ(got.entries.at("1m pair 192.0.2.1>192.0.2.2 @600"),
            std::make_pair(uint64_t{50}, uint64_t{1}));
  // Nothing in m1 before its cutoff.
  EXPECT_EQ(got.entries.count("1m pair 192.0.2.1>192.0.2.2 @0"), 0u);
}

TEST(DerivedViewsTest, CutoffsLeaveOutEarlierBuckets) {
  RollupBuffer buffer;
  AddFlow(Flow(kHour + 5, 1, 2, 6, 1, 2, 100), 1, kKeepAll, &buffer);
  AddFlow(Flow(kHour + 3605, 1, 2, 6, 1, 2, 100), 1, kKeepAll, &buffer);
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  // m1 from the second hour on; h1 from the second hour on too.
  const Cutoffs cutoff = {0, kHour + 3600, kHour + 3600};
  const Collected got = Collect(views, cutoff, kHour + 7200);
  for (const auto& [name, totals] : got.entries) {
    EXPECT_NE(name.find("@3600"), std::string::npos) << name;
  }
  EXPECT_EQ(got.entries.size(), 14u);
}

TEST(DerivedViewsTest, EmptiesItselfAfterEachAppend) {
  RollupBuffer buffer;
  AddFlow(Flow(kHour + 5, 1, 2, 6, 1, 2, 100), 1, kKeepAll, &buffer);
  DerivedViews views;
  views.Add(buffer.minute, Tier::kMinute);
  EXPECT_EQ(Collect(views, kKeepAll, kHour).entries.size(), 7u);
  EXPECT_TRUE(Collect(views, kKeepAll, kHour).entries.empty());
}

}  // namespace
}  // namespace weir::store
