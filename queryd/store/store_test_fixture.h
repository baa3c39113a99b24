// The fixture of the store's tests (store_test.cc, store_read_test.cc,
// store_hours_test.cc, store_recovery_test.cc, store_format_test.cc): a
// store in a scratch directory, run with the rollup buffer off, small and
// at its default size, and helpers that read it back. It is the one list of
// what those tests include, and instantiates their suite: each of them
// includes this header alone and only writes TEST_Ps.

#ifndef WEIR_QUERYD_STORE_STORE_TEST_FIXTURE_H_
#define WEIR_QUERYD_STORE_STORE_TEST_FIXTURE_H_

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "queryd/store/encoding.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/rollup_merge_operator.h"
#include "queryd/store/store.h"
#include "queryd/store/store_test_util.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

inline constexpr uint64_t kSecond = kNanosPerSecondForTests;
// 2023-11-14 22:00:00 UTC: a whole hour.
inline constexpr uint64_t kHourSec = 1699999200;
inline constexpr uint64_t kHourNs = kHourSec * kSecond;

inline const TimeRange kAllTime = {absl::InfinitePast(),
                                   absl::InfiniteFuture()};

inline absl::Time AtNanos(uint64_t unix_nano) {
  return absl::FromUnixNanos(static_cast<int64_t>(unix_nano));
}

// A batch of one flow seen at exactly `last_seen`, with the interval
// starting there too.
inline weir::v1::FlowBatch OneFlowBatch(uint64_t seq, uint64_t last_seen,
                                        uint64_t packets = 1,
                                        const std::string& node = "node-a") {
  BatchSpec spec;
  spec.node = node;
  spec.seq = seq;
  spec.flows = 1;
  spec.seed = seq;
  weir::v1::FlowBatch batch = MakeBatch(spec);
  batch.set_interval_start_unix_nano(last_seen);
  batch.set_interval_end_unix_nano(last_seen + kSecond);
  weir::v1::IngestFlow* flow = batch.mutable_flows(0);
  flow->set_first_seen_unix_nano(last_seen);
  flow->set_last_seen_unix_nano(last_seen);
  flow->set_packets(packets);
  flow->set_bytes(packets * 100);
  weir::v1::Counters* counters = batch.mutable_counters();
  counters->set_packets_exported(packets);
  counters->set_bytes_exported(packets * 100);
  counters->set_packets_seen(packets);
  counters->set_bytes_seen(packets * 100);
  return batch;
}

// Batch `seq` of a run that starts at kHourNs, one batch every
// `spacing_sec` seconds, each with `flows` flows and a seed of its own.
inline BatchSpec SpacedBatch(uint64_t seq, uint64_t spacing_sec, int flows) {
  BatchSpec spec;
  spec.seq = seq;
  spec.seed = seq;
  spec.flows = flows;
  spec.interval_start_unix_nano = kHourNs + seq * spacing_sec * kSecond;
  return spec;
}

inline std::string AddressKey(const Address& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

// The key of a flow in `view`, comparable with ViewKey(RollupEntry).
inline std::string ViewKey(View view, const FlowRecord& f) {
  switch (view) {
    case View::kSrc:
      return AddressKey(f.src_addr);
    case View::kDst:
      return AddressKey(f.dst_addr);
    case View::kPair:
      return AddressKey(f.src_addr) + AddressKey(f.dst_addr);
    case View::kSrcPort:
      return absl::StrCat(f.protocol, "/", f.src_port);
    case View::kDstPort:
      return absl::StrCat(f.protocol, "/", f.dst_port);
    case View::kProtocol:
      return absl::StrCat(f.protocol);
    case View::kNode:
      return absl::StrCat(f.node, "/", f.direction, "/", f.ifname);
    case View::kNodeCounters:
      break;
  }
  return "?";
}

inline std::string ViewKey(const RollupEntry& e) {
  switch (e.view) {
    case View::kSrc:
      return AddressKey(e.src_addr);
    case View::kDst:
      return AddressKey(e.dst_addr);
    case View::kPair:
      return AddressKey(e.src_addr) + AddressKey(e.dst_addr);
    case View::kSrcPort:
    case View::kDstPort:
      return absl::StrCat(e.protocol, "/", e.port);
    case View::kProtocol:
      return absl::StrCat(e.protocol);
    case View::kNode:
      return absl::StrCat(e.node, "/", e.direction, "/", e.ifname);
    case View::kNodeCounters:
      break;
  }
  return "?";
}

using TotalsByKey = std::map<std::pair<int64_t, std::string>, Totals>;

inline bool SameTotals(const Totals& a, const Totals& b) {
  return a.bytes == b.bytes && a.packets == b.packets && a.flows == b.flows &&
         a.first_seen_unix_nano == b.first_seen_unix_nano &&
         a.last_seen_unix_nano == b.last_seen_unix_nano &&
         a.damaged == b.damaged;
}

inline void ExpectSameRollups(const TotalsByKey& got,
                              const TotalsByKey& expected,
                              absl::string_view what) {
  EXPECT_EQ(got.size(), expected.size()) << what;
  for (const auto& [key, totals] : expected) {
    auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": missing entry at bucket " << key.first;
      continue;
    }
    EXPECT_TRUE(SameTotals(it->second, totals))
        << what << " at bucket " << key.first << ": bytes " << it->second.bytes
        << " vs " << totals.bytes << ", packets " << it->second.packets
        << " vs " << totals.packets << ", flows " << it->second.flows << " vs "
        << totals.flows;
  }
}

// Every test runs with the rollup buffer off (rollups written with each
// batch), small (flushed every few batches, so merges of one bucket arrive
// in several flushes) and at its default size (flushed by reads, Flush and
// close).
class StoreTest : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    options_.data_dir = ScratchDir(name);
    options_.rollup_buffer_keys = GetParam();
    // The WAL is still written; tests need not wait for fsync.
    options_.sync_writes = false;
    store_ = Open();
  }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Reopen() {
    store_.reset();
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  IngestResult Write(const weir::v1::FlowBatch& batch, absl::Time at) {
    absl::StatusOr<IngestResult> result = store_->WriteBatch(batch, at);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : IngestResult();
  }

  // Received right after the batch's interval.
  IngestResult Write(const weir::v1::FlowBatch& batch) {
    return Write(batch, AtNanos(batch.interval_end_unix_nano()));
  }

  std::vector<FlowRecord> Raw(const TimeRange& range = kAllTime,
                              bool newest_first = false) {
    std::vector<FlowRecord> flows;
    RawScan scan;
    scan.range = range;
    scan.newest_first = newest_first;
    EXPECT_TRUE(store_
                    ->ScanRaw(scan,
                              [&](const FlowRecord& flow, absl::string_view) {
                                flows.push_back(flow);
                                return true;
                              })
                    .ok());
    return flows;
  }

  // The page cursor of every raw flow, newest first.
  std::vector<std::string> Cursors() {
    std::vector<std::string> cursors;
    EXPECT_TRUE(store_
                    ->ScanRaw({kAllTime, true, ""},
                              [&](const FlowRecord&, absl::string_view cursor) {
                                cursors.emplace_back(cursor);
                                return true;
                              })
                    .ok());
    return cursors;
  }

  TotalsByKey Rollup(Tier tier, View view, const TimeRange& range = kAllTime) {
    TotalsByKey totals;
    const absl::Status status =
        store_->ScanRollup(tier, view, range, [&](const RollupEntry& e) {
          EXPECT_EQ(e.view, view);
          totals[{absl::ToUnixSeconds(e.bucket), ViewKey(e)}] += e.totals;
          return true;
        });
    EXPECT_TRUE(status.ok()) << status;
    return totals;
  }

  // What every rollup entry should hold, from the raw records.
  static TotalsByKey Expected(const std::vector<FlowRecord>& flows, Tier tier,
                              View view) {
    TotalsByKey totals;
    for (const FlowRecord& f : flows) {
      const int64_t bucket = BucketStartSec(f.last_seen_unix_nano, tier);
      totals[{bucket, ViewKey(view, f)}] += Totals{
          f.bytes, f.packets, 1, f.first_seen_unix_nano, f.last_seen_unix_nano,
          false};
    }
    return totals;
  }

  // Runs `steps` on a store of options_ in a child process that then ends
  // without closing it, as a crash would (the test's own store must be
  // closed first). `steps` returns 0, or the exit code that names the step
  // that failed; the test fails unless the child got through them all.
  void CrashAfter(const std::function<int(Store&)>& steps) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
          absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
          std::_Exit(store.ok() ? steps(**store) : 1);
        },
        ::testing::ExitedWithCode(0), "");
  }

  // The one node the store knows (a test failure, and an empty entry, when
  // it knows none or several).
  NodeInfo OnlyNode() {
    const std::vector<NodeInfo> nodes = store_->GetNodes();
    EXPECT_EQ(nodes.size(), 1u);
    return nodes.size() == 1 ? nodes[0] : NodeInfo();
  }

  // Every flow view's rollups, in both tiers, against what `raw` adds up to.
  // `when`, if given, leads the name of each failure.
  void ExpectRollupsOf(const std::vector<FlowRecord>& raw,
                       absl::string_view when = "") {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      for (View view : kFlowViews) {
        ExpectSameRollups(Rollup(tier, view), Expected(raw, tier, view),
                          absl::StrCat(when, when.empty() ? "" : " ",
                                       TierName(tier), "/", ViewName(view)));
      }
    }
  }

  std::map<std::pair<int64_t, std::string>, NodeCounters> Counters(
      Tier tier, const TimeRange& range = kAllTime) {
    std::map<std::pair<int64_t, std::string>, NodeCounters> out;
    EXPECT_TRUE(
        store_
            ->ScanNodeCounters(
                tier, range,
                [&](const NodeCountersEntry& e) {
                  EXPECT_FALSE(e.damaged);
                  out[{absl::ToUnixSeconds(e.bucket), e.node}] = e.counters;
                  return true;
                })
            .ok());
    return out;
  }

  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

// Every TEST_P of a file that includes this header runs three times, named
// after the buffer size.
INSTANTIATE_TEST_SUITE_P(RollupBuffer, StoreTest,
                         ::testing::Values(0, 7,
                                           StoreOptions().rollup_buffer_keys),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0 ? std::string("WriteThrough")
                                  : info.param == 7 ? std::string("Small")
                                                    : std::string("Default");
                         });

// The store's RocksDB opened directly (the store closed), to write what a
// bug, a bad disk or an older weir-queryd might have left. Every family has
// the rollup merge operator, so merges can be written to m1 and h1.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    std::vector<std::string> names;
    EXPECT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names)
            .ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) {
      rocksdb::ColumnFamilyOptions options;
      options.merge_operator = std::make_shared<RollupMergeOperator>();
      descriptors.emplace_back(name, options);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir, descriptors, &handles, &db)
            .ok());
    db_.reset(db);
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      families_[handle->GetName()] = handle;
    }
  }
  ~RawDb() {
    for (const auto& [name, handle] : families_) {
      db_->DestroyColumnFamilyHandle(handle);
    }
  }

  rocksdb::DB* db() { return db_.get(); }
  // Writes the format version a store of another release would have left.
  void SetFormatVersion(uint32_t version) {
    std::string value;
    PutU32(&value, version);
    EXPECT_TRUE(db_->Put(rocksdb::WriteOptions(), family("meta"),
                         "format_version", value)
                    .ok());
  }
  rocksdb::ColumnFamilyHandle* family(const std::string& name) {
    return families_.at(name);
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families_;
};

// The hour tier's end as the store has it, without closing any hour.
inline absl::Time HourEnd(const Store& store) {
  const absl::StatusOr<absl::Time> end = store.HourTierEnd(
      {absl::UnixEpoch(), absl::UnixEpoch()}, absl::InfiniteFuture());
  EXPECT_TRUE(end.ok()) << end.status();
  return end.ok() ? *end : absl::InfinitePast();
}

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_STORE_TEST_FIXTURE_H_
