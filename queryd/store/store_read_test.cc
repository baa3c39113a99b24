// The store's reads (store_reader.h) through its interface: raw pages and
// ranges, rollup scans, sums, lookups, node counters.

#include "queryd/store/store_test_fixture.h"

namespace weir::store {
namespace {

// A visitor that takes every entry: for reads whose answer is their status.
bool TakeAll(const RollupEntry&) { return true; }

// Batch `seq` of a run `spacing_sec` apart from a second past kHourNs: 8
// flows over 4 addresses a side, so the run's keys repeat.
weir::v1::FlowBatch SmallBatch(uint64_t seq, uint64_t spacing_sec) {
  BatchSpec spec = SpacedBatch(seq, spacing_sec, 8);
  spec.address_pool = 4;
  spec.interval_start_unix_nano += kSecond;
  return MakeBatch(spec);
}

TEST_P(StoreTest, ScanRawPagesWithCursors) {
  BatchSpec spec;
  spec.flows = 25;
  Write(MakeBatch(spec));
  for (bool newest_first : {true, false}) {
    std::vector<std::string> cursors;
    std::vector<uint64_t> times;
    RawScan scan;
    scan.range = kAllTime;
    scan.newest_first = newest_first;
    for (int page = 0; page < 10; ++page) {
      int taken = 0;
      std::string last;
      ASSERT_TRUE(store_
                      ->ScanRaw(scan,
                                [&](const FlowRecord& f, absl::string_view c) {
                                  times.push_back(f.last_seen_unix_nano);
                                  cursors.emplace_back(c);
                                  last = std::string{c};
                                  return ++taken < 10;
                                })
                      .ok());
      if (taken == 0) break;
      scan.cursor = last;
    }
    EXPECT_EQ(times.size(), 25u);
    std::set<std::string> unique(cursors.begin(), cursors.end());
    EXPECT_EQ(unique.size(), 25u);
    std::vector<std::string> sorted = cursors;
    std::sort(sorted.begin(), sorted.end());
    if (newest_first) std::reverse(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, cursors) << "newest_first " << newest_first;
  }

  RawScan bad;
  bad.range = kAllTime;
  bad.cursor = "not a cursor";
  EXPECT_EQ(store_
                ->ScanRaw(bad, [](const FlowRecord&,
                                  absl::string_view) { return true; })
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, ScanRawHonoursTheRange) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    Write(OneFlowBatch(seq, kHourNs + seq * kSecond));
  }
  // [2 s, 4 s): the flows at 2 s and 3 s.
  const std::vector<FlowRecord> flows =
      Raw({AtNanos(kHourNs + 2 * kSecond), AtNanos(kHourNs + 4 * kSecond)},
          /*newest_first=*/true);
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].last_seen_unix_nano, kHourNs + 3 * kSecond);
  EXPECT_EQ(flows[1].last_seen_unix_nano, kHourNs + 2 * kSecond);
  EXPECT_TRUE(
      Raw({AtNanos(kHourNs + 4 * kSecond), AtNanos(kHourNs + 4 * kSecond)})
          .empty());
}

TEST_P(StoreTest, ScanRollupReadsOnlyBucketsInTheRange) {
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    Write(OneFlowBatch(seq, kHourNs + seq * 60 * kSecond + 5, seq));
  }
  // Buckets starting at minutes 2, 3 and 4.
  const TotalsByKey totals = Rollup(Tier::kMinute, View::kProtocol,
                                    {absl::FromUnixSeconds(kHourSec + 120),
                                     absl::FromUnixSeconds(kHourSec + 300)});
  uint64_t packets = 0;
  for (const auto& [key, t] : totals) {
    EXPECT_GE(key.first, static_cast<int64_t>(kHourSec + 120));
    EXPECT_LT(key.first, static_cast<int64_t>(kHourSec + 300));
    packets += t.packets;
  }
  EXPECT_EQ(packets, 2u + 3 + 4);
  EXPECT_EQ(
      store_->ScanRollup(Tier::kRaw, View::kSrc, kAllTime, TakeAll).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->ScanRollup(Tier::kMinute, View::kNodeCounters, kAllTime, TakeAll)
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, SumRollupSumsEveryKeyOncePerRun) {
  // Flows in 100 minutes of two hours: the minute tier needs two runs of at
  // most kMaxSummedBuckets buckets, the hour tier one.
  for (uint64_t seq = 1; seq <= 100; ++seq) Write(SmallBatch(seq, 60));
  ASSERT_TRUE(store_->Flush().ok());
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      SCOPED_TRACE(absl::StrCat(TierName(tier), "/", ViewName(view)));
      // What ScanRollup has, summed over buckets per key.
      std::map<std::string, Totals> want;
      for (const auto& [bucket_key, totals] : Rollup(tier, view)) {
        want[bucket_key.second] += totals;
      }
      std::map<std::string, Totals> got;
      std::map<int64_t, std::vector<std::string>> keys_by_run;
      const absl::Status status =
          store_->SumRollup(tier, view, kAllTime, [&](const RollupEntry& e) {
            EXPECT_EQ(e.view, view);
            got[ViewKey(e)] += e.totals;
            keys_by_run[absl::ToUnixSeconds(e.bucket)].push_back(ViewKey(e));
            return true;
          });
      ASSERT_TRUE(status.ok()) << status;
      ASSERT_EQ(got.size(), want.size());
      for (const auto& [key, totals] : want) {
        EXPECT_EQ(got[key].bytes, totals.bytes);
        EXPECT_EQ(got[key].packets, totals.packets);
        EXPECT_EQ(got[key].flows, totals.flows);
        EXPECT_EQ(got[key].first_seen_unix_nano, totals.first_seen_unix_nano);
        EXPECT_EQ(got[key].last_seen_unix_nano, totals.last_seen_unix_nano);
      }
      // Each key once per run (in no promised order: shard by shard).
      EXPECT_EQ(keys_by_run.size(), tier == Tier::kMinute ? 2u : 1u);
      for (const auto& [run, keys] : keys_by_run) {
        EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(),
                  keys.size());
      }
    }
  }
  // A range inside the data: only its buckets.
  uint64_t packets = 0;
  ASSERT_TRUE(store_
                  ->SumRollup(Tier::kMinute, View::kProtocol,
                              {absl::FromUnixSeconds(kHourSec + 120),
                               absl::FromUnixSeconds(kHourSec + 300)},
                              [&](const RollupEntry& e) {
                                packets += e.totals.flows;
                                return true;
                              })
                  .ok());
  EXPECT_EQ(packets, 3u * 8);
  EXPECT_EQ(store_->SumRollup(Tier::kRaw, View::kSrc, kAllTime, TakeAll).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, LookupRollupReadsTheKeysAsScanRollupHasThem) {
  for (uint64_t seq = 1; seq <= 30; ++seq) Write(SmallBatch(seq, 150));
  const TimeRange range = {absl::FromUnixSeconds(kHourSec + 300),
                           absl::FromUnixSeconds(kHourSec + 3000)};
  for (View view : {View::kSrc, View::kPair, View::kDstPort}) {
    SCOPED_TRACE(ViewName(view));
    const TotalsByKey all = Rollup(Tier::kMinute, view, range);
    ASSERT_FALSE(all.empty());
    // Two keys that are present, and one that is not.
    std::vector<RollupEntry> keys;
    std::set<std::string> wanted;
    store_
        ->ScanRollup(Tier::kMinute, view, range,
                     [&](const RollupEntry& e) {
                       if (wanted.insert(ViewKey(e)).second) keys.push_back(e);
                       return wanted.size() < 2;
                     })
        .IgnoreError();
    ASSERT_EQ(keys.size(), 2u);
    RollupEntry absent = keys[0];
    absent.src_addr[0] ^= 0xff;
    absent.dst_addr[0] ^= 0xff;
    absent.port ^= 0xffff;
    keys.push_back(absent);

    TotalsByKey got;
    int64_t last_bucket = 0;
    const absl::Status status = store_->LookupRollup(
        Tier::kMinute, view, range, keys, [&](const RollupEntry& e) {
          EXPECT_EQ(e.view, view);
          EXPECT_GE(absl::ToUnixSeconds(e.bucket), last_bucket);
          last_bucket = absl::ToUnixSeconds(e.bucket);
          got[{last_bucket, ViewKey(e)}] += e.totals;
          return true;
        });
    ASSERT_TRUE(status.ok()) << status;
    TotalsByKey want;
    for (const auto& [bucket_key, totals] : all) {
      if (wanted.count(bucket_key.second) > 0) want[bucket_key] = totals;
    }
    ExpectSameRollups(got, want, ViewName(view));
  }
  EXPECT_EQ(store_->LookupRollup(Tier::kMinute, View::kNode, range, {}, TakeAll)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, NodeCountersReportLossesPerBucket) {
  BatchSpec spec;
  spec.map_full_packets = 7;
  spec.interval_start_unix_nano = kHourNs + 10 * kSecond;
  Write(MakeBatch(spec));
  spec.seq = 2;
  spec.map_full_packets = 0;
  spec.non_ip_packets = 4;
  spec.interval_start_unix_nano = kHourNs + 70 * kSecond;
  Write(MakeBatch(spec));

  const auto minute = Counters(Tier::kMinute);
  ASSERT_EQ(minute.size(), 2u);
  const NodeCounters& first = minute.at({kHourSec, "node-a"});
  ASSERT_EQ(first.losses.size(), 1u);
  EXPECT_EQ(first.losses[0].reason, weir::v1::LOSS_REASON_MAP_FULL);
  EXPECT_EQ(first.losses[0].packets, 7u);
  const NodeCounters& second = minute.at({kHourSec + 60, "node-a"});
  ASSERT_EQ(second.losses.size(), 1u);
  EXPECT_EQ(second.losses[0].reason, weir::v1::LOSS_REASON_NON_IP);

  const auto hour = Counters(Tier::kHour);
  ASSERT_EQ(hour.size(), 1u);
  EXPECT_EQ(hour.at({kHourSec, "node-a"}).lost_packets(), 11u);
  EXPECT_EQ(hour.at({kHourSec, "node-a"}).losses.size(), 2u);
}

}  // namespace
}  // namespace weir::store
