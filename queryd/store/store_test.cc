#include "queryd/store/store.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
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
#include "queryd/store/store_test_util.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {
namespace {

constexpr uint64_t kSecond = kNanosPerSecondForTests;
// 2023-11-14 22:00:00 UTC: a whole hour.
constexpr uint64_t kHourSec = 1699999200;
constexpr uint64_t kHourNs = kHourSec * kSecond;

const TimeRange kAllTime = {absl::InfinitePast(), absl::InfiniteFuture()};

absl::Time AtNanos(uint64_t unix_nano) {
  return absl::FromUnixNanos(static_cast<int64_t>(unix_nano));
}

// A batch of one flow seen at exactly `last_seen`, with the interval
// starting there too.
weir::v1::FlowBatch OneFlowBatch(uint64_t seq, uint64_t last_seen,
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

std::string AddressKey(const Address& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

// The key of a flow in `view`, comparable with ViewKey(RollupEntry).
std::string ViewKey(View view, const FlowRecord& f) {
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

std::string ViewKey(const RollupEntry& e) {
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

bool SameTotals(const Totals& a, const Totals& b) {
  return a.bytes == b.bytes && a.packets == b.packets && a.flows == b.flows &&
         a.first_seen_unix_nano == b.first_seen_unix_nano &&
         a.last_seen_unix_nano == b.last_seen_unix_nano &&
         a.damaged == b.damaged;
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

void ExpectSameRollups(const TotalsByKey& got, const TotalsByKey& expected,
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
  rocksdb::ColumnFamilyHandle* family(const std::string& name) {
    return families_.at(name);
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families_;
};

INSTANTIATE_TEST_SUITE_P(RollupBuffer, StoreTest,
                         ::testing::Values(0, 7,
                                           StoreOptions().rollup_buffer_keys),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0 ? std::string("WriteThrough")
                                  : info.param == 7 ? std::string("Small")
                                                    : std::string("Default");
                         });

TEST_P(StoreTest, StoresABatchAndReadsItBack) {
  ASSERT_NE(store_, nullptr);
  BatchSpec spec;
  spec.flows = 50;
  const weir::v1::FlowBatch batch = MakeBatch(spec);
  const IngestResult result = Write(batch);
  EXPECT_EQ(result.outcome, IngestResult::Outcome::kStored);
  EXPECT_FALSE(result.duplicate());
  EXPECT_EQ(result.flows, 50u);

  const std::vector<FlowRecord> flows = Raw();
  ASSERT_EQ(flows.size(), 50u);
  // Every ingested flow comes back, field by field.
  std::multiset<std::tuple<uint64_t, uint64_t, uint64_t, uint32_t>> want, got;
  for (const weir::v1::IngestFlow& f : batch.flows()) {
    want.emplace(f.last_seen_unix_nano(), f.packets(), f.bytes(), f.src_port());
  }
  for (size_t i = 0; i < flows.size(); ++i) {
    const FlowRecord& f = flows[i];
    got.emplace(f.last_seen_unix_nano, f.packets, f.bytes, f.src_port);
    EXPECT_EQ(f.node, "node-a");
    EXPECT_TRUE(f.ifname == "eth0" || f.ifname == "veth1a2b") << f.ifname;
    EXPECT_EQ(f.ifname == "eth0", f.ifindex == 2);
    if (i > 0) {
      EXPECT_LE(flows[i - 1].last_seen_unix_nano, f.last_seen_unix_nano);
    }
  }
  EXPECT_EQ(got, want);

  // A specific flow, all fields.
  const weir::v1::IngestFlow& in = batch.flows(0);
  auto it = std::find_if(flows.begin(), flows.end(), [&](const FlowRecord& f) {
    return f.last_seen_unix_nano == in.last_seen_unix_nano() &&
           f.packets == in.packets() && f.bytes == in.bytes();
  });
  ASSERT_NE(it, flows.end());
  Address src;
  AddressFromBytes(in.src_addr(), &src);
  EXPECT_EQ(it->src_addr, src);
  EXPECT_EQ(it->ipv4(), in.src_addr().size() == 4);
  EXPECT_EQ(it->protocol, in.protocol());
  EXPECT_EQ(it->dst_port, in.dst_port());
  EXPECT_EQ(it->direction, in.direction());
  EXPECT_EQ(it->icmp_type, in.icmp_type());
  EXPECT_EQ(it->tcp_flags, in.tcp_flags());
  EXPECT_EQ(it->first_seen_unix_nano, in.first_seen_unix_nano());
}

TEST_P(StoreTest, ResendOfTheSameSeqStoresNothingTwice) {
  const weir::v1::FlowBatch batch = MakeBatch({});
  EXPECT_EQ(Write(batch).outcome, IngestResult::Outcome::kStored);
  const TotalsByKey rollup = Rollup(Tier::kMinute, View::kProtocol);

  const IngestResult again = Write(batch);
  EXPECT_EQ(again.outcome, IngestResult::Outcome::kDuplicate);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.flows, 0u);
  EXPECT_EQ(Raw().size(), 10u);
  ExpectSameRollups(Rollup(Tier::kMinute, View::kProtocol), rollup, "1m");

  // An older seq of the same epoch is a duplicate too.
  BatchSpec spec;
  spec.seq = 5;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kStored);
  spec.seq = 4;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kDuplicate);
  EXPECT_EQ(Raw().size(), 20u);

  const std::vector<NodeInfo> nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].last_seq, 5u);
  EXPECT_EQ(nodes[0].batches, 2u);
  EXPECT_EQ(nodes[0].flows, 20u);
}

TEST_P(StoreTest, ANewEpochIsAcceptedAndAnOldOneIsStale) {
  BatchSpec spec;
  spec.epoch = 1;
  spec.seq = 40;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kStored);
  spec.epoch = 2;
  spec.seq = 1;
  const IngestResult restarted = Write(MakeBatch(spec));
  EXPECT_EQ(restarted.outcome, IngestResult::Outcome::kStored);
  EXPECT_EQ(restarted.skipped_seqs, 0u);
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kDuplicate);

  spec.epoch = 1;
  spec.seq = 41;
  const IngestResult stale = Write(MakeBatch(spec));
  EXPECT_EQ(stale.outcome, IngestResult::Outcome::kStaleEpoch);
  EXPECT_TRUE(stale.duplicate());
  EXPECT_EQ(Raw().size(), 20u);

  const std::vector<NodeInfo> nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].epoch, 2u);
  EXPECT_EQ(nodes[0].last_seq, 1u);
  EXPECT_EQ(nodes[0].stale_batches, 1u);
  EXPECT_EQ(nodes[0].gaps, 0u);
}

TEST_P(StoreTest, ASeqGapIsAcceptedAndRecorded) {
  BatchSpec spec;
  spec.seq = 1;
  Write(MakeBatch(spec));
  spec.seq = 4;
  const IngestResult gap = Write(MakeBatch(spec));
  EXPECT_EQ(gap.outcome, IngestResult::Outcome::kStored);
  EXPECT_EQ(gap.skipped_seqs, 2u);
  // A new epoch whose first batch is seq 3 skipped seqs 1 and 2.
  spec.epoch = 2;
  spec.seq = 3;
  EXPECT_EQ(Write(MakeBatch(spec)).skipped_seqs, 2u);

  std::vector<NodeInfo> nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].gaps, 4u);
  EXPECT_EQ(Raw().size(), 30u);

  Reopen();
  nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].gaps, 4u);
}

TEST_P(StoreTest, AFirstBatchAfterSeqOneIsNoGap) {
  BatchSpec spec;
  spec.seq = 1000;
  EXPECT_EQ(Write(MakeBatch(spec)).skipped_seqs, 0u);
  EXPECT_EQ(store_->GetNodes()[0].gaps, 0u);
}

TEST_P(StoreTest, AnInvalidBatchWritesNothing) {
  weir::v1::FlowBatch batch = MakeBatch({});
  batch.mutable_flows(3)->set_src_addr("12345");
  const absl::StatusOr<IngestResult> result = store_->WriteBatch(batch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(),
            "flows[3].src_addr: must be 4 or 16 bytes, got 5");
  EXPECT_TRUE(Raw().empty());
  EXPECT_TRUE(Rollup(Tier::kMinute, View::kSrc).empty());
  EXPECT_TRUE(store_->GetNodes().empty());
  // The same seq, fixed, is then stored.
  EXPECT_EQ(Write(MakeBatch({})).outcome, IngestResult::Outcome::kStored);
}

TEST_P(StoreTest, EverythingIsStillThereAfterReopening) {
  BatchSpec spec;
  spec.map_full_packets = 3;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    spec.seq = seq;
    spec.seed = seq;
    spec.interval_start_unix_nano = kHourNs + seq * 20 * kSecond;
    Write(MakeBatch(spec));
  }
  spec.node = "node-b";
  spec.seq = 9;
  Write(MakeBatch(spec));

  const std::vector<FlowRecord> raw = Raw();
  const TotalsByKey pair = Rollup(Tier::kMinute, View::kPair);
  const TotalsByKey node = Rollup(Tier::kHour, View::kNode);
  const auto counters = Counters(Tier::kMinute);
  ASSERT_EQ(raw.size(), 60u);

  Reopen();
  EXPECT_EQ(Raw().size(), raw.size());
  ExpectSameRollups(Rollup(Tier::kMinute, View::kPair), pair, "1m/pair");
  ExpectSameRollups(Rollup(Tier::kHour, View::kNode), node, "1h/node");
  EXPECT_EQ(Counters(Tier::kMinute).size(), counters.size());
  const std::vector<NodeInfo> nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].name, "node-a");
  EXPECT_EQ(nodes[0].last_seq, 5u);
  EXPECT_EQ(nodes[0].version, "test-1.0");
  EXPECT_EQ(nodes[0].counters.losses.size(), 1u);
  EXPECT_EQ(nodes[0].counters.lost_packets(), 15u);
  EXPECT_EQ(nodes[1].name, "node-b");

  // Exactly-once holds across the restart.
  spec.node = "node-a";
  spec.seq = 5;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kDuplicate);
  spec.seq = 6;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kStored);
  // A node added after the restart gets a fresh id.
  spec.node = "node-c";
  Write(MakeBatch(spec));
  std::set<std::string> names;
  for (const FlowRecord& f : Raw()) names.insert(f.node);
  EXPECT_EQ(names, (std::set<std::string>{"node-a", "node-b", "node-c"}));

  // And after a flush and a full compaction (merges folded into values).
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_TRUE(store_->Compact().ok());
  Reopen();
  EXPECT_EQ(Raw().size(), 80u);
  EXPECT_GT(store_->ApproximateSize(), 0u);
}

TEST_P(StoreTest, RollupTotalsEqualRawTotals) {
  // Three nodes, 40 batches each, spread over three hours.
  for (const std::string node : {"node-a", "node-b", "node-c"}) {
    for (uint64_t seq = 1; seq <= 40; ++seq) {
      BatchSpec spec;
      spec.node = node;
      spec.seq = seq;
      spec.seed = seq * 31 + node.back();
      spec.flows = 25;
      spec.address_pool = 6;
      spec.map_full_packets = seq % 3;
      spec.non_ip_packets = seq % 2;
      spec.interval_start_unix_nano =
          kHourNs + seq * 271 * kSecond + node.back() * kSecond;
      Write(MakeBatch(spec));
    }
  }
  // Flush half-way through a second round so merges meet SST values too.
  ASSERT_TRUE(store_->Flush().ok());
  for (uint64_t seq = 41; seq <= 60; ++seq) {
    BatchSpec spec;
    spec.node = "node-a";
    spec.seq = seq;
    spec.seed = seq;
    spec.interval_start_unix_nano = kHourNs + seq * 113 * kSecond;
    Write(MakeBatch(spec));
  }

  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 3u * 40 * 25 + 20 * 10);
  auto check = [&](absl::string_view when) {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      for (View view : kFlowViews) {
        ExpectSameRollups(
            Rollup(tier, view), Expected(raw, tier, view),
            absl::StrCat(when, " ", TierName(tier), "/", ViewName(view)));
      }
    }
  };
  check("before compaction");
  ASSERT_TRUE(store_->Compact().ok());
  check("after compaction");

  // A window of whole hours: 1h/protocol totals equal raw totals exactly.
  const TimeRange window = {absl::FromUnixSeconds(kHourSec + 3600),
                            absl::FromUnixSeconds(kHourSec + 3 * 3600)};
  Totals from_raw, from_rollup;
  for (const FlowRecord& f : Raw(window)) {
    from_raw +=
        {f.bytes, f.packets, 1, f.first_seen_unix_nano, f.last_seen_unix_nano,
         false};
  }
  for (const auto& [key, totals] :
       Rollup(Tier::kHour, View::kProtocol, window)) {
    from_rollup += totals;
  }
  EXPECT_GT(from_raw.flows, 0u);
  EXPECT_TRUE(SameTotals(from_raw, from_rollup));

  // Node counters add up to the nodes' totals, in both tiers.
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    std::map<std::string, NodeCounters> sums;
    for (const auto& [key, counters] : Counters(tier)) {
      NodeCounters& sum = sums[key.second];
      sum.packets_seen += counters.packets_seen;
      sum.packets_exported += counters.packets_exported;
      sum.bytes_exported += counters.bytes_exported;
      for (const LossTotal& loss : counters.losses) {
        sum.losses.push_back(loss);
      }
    }
    for (const NodeInfo& node : store_->GetNodes()) {
      EXPECT_EQ(sums[node.name].packets_seen, node.counters.packets_seen);
      EXPECT_EQ(sums[node.name].packets_exported,
                node.counters.packets_exported);
      EXPECT_EQ(sums[node.name].bytes_exported, node.counters.bytes_exported);
      EXPECT_EQ(sums[node.name].lost_packets(), node.counters.lost_packets());
    }
  }
}

TEST_P(StoreTest, ACrashLosesNoRollups) {
  // A child process writes batches and exits without closing the store, so
  // whatever the rollup buffer held is only in the pending records.
  store_.reset();
  const auto spec_of = [](uint64_t seq) {
    BatchSpec spec;
    spec.node = seq % 2 == 0 ? "node-a" : "node-b";
    spec.seq = seq;
    spec.seed = seq;
    spec.flows = 30;
    spec.map_full_packets = seq % 4;
    spec.interval_start_unix_nano = kHourNs + seq * 97 * kSecond;
    return spec;
  };
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
        if (!store.ok()) std::_Exit(1);
        for (uint64_t seq = 1; seq <= 60; ++seq) {
          const weir::v1::FlowBatch batch = MakeBatch(spec_of(seq));
          if (!(*store)
                   ->WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
                   .ok()) {
            std::_Exit(2);
          }
          // Half-way the buffer goes out, to memtables only (no WAL): the
          // crash loses that write too, pending deletions included.
          if (seq == 30 && !(*store)->FlushRollups().ok()) std::_Exit(3);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");

  std::vector<std::string> progress;
  options_.progress = [&](absl::string_view line) {
    progress.emplace_back(line);
  };
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  if (options_.rollup_buffer_keys == 0) {
    // Written through: every batch's rollups went with it.
    EXPECT_TRUE(progress.empty()) << progress[0];
  } else {
    // Every batch: each buffer write before the crash was lost with it.
    ASSERT_EQ(progress.size(), 2u);
    EXPECT_EQ(progress[0],
              "rolling up 60 batches again from raw flows: the store was not "
              "closed cleanly and their rollups had not reached disk");
    EXPECT_TRUE(
        absl::StartsWith(progress[1], "rolled up 60 batches (1800 flows) in "))
        << progress[1];
  }
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 60u * 30);
  const auto check = [&](absl::string_view when) {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      for (View view : kFlowViews) {
        ExpectSameRollups(
            Rollup(tier, view), Expected(raw, tier, view),
            absl::StrCat(when, " ", TierName(tier), "/", ViewName(view)));
      }
      uint64_t lost = 0;
      for (const auto& [key, counters] : Counters(tier)) {
        lost += counters.lost_packets();
      }
      uint64_t expected_lost = 0;
      for (uint64_t seq = 1; seq <= 60; ++seq) expected_lost += seq % 4;
      EXPECT_EQ(lost, expected_lost) << when << " " << TierName(tier);
    }
  };
  check("after recovery");
  // Recovered once: the pending records went with the recovered rollups.
  progress.clear();
  Reopen();
  options_.progress = nullptr;
  EXPECT_TRUE(progress.empty()) << progress[0];
  check("after a second open");
}

TEST_P(StoreTest, ConcurrentResendsStoreEachBatchOnce) {
  constexpr int kBatches = 30;
  constexpr int kThreads = 4;
  std::vector<weir::v1::FlowBatch> batches;
  for (int seq = 1; seq <= kBatches; ++seq) {
    BatchSpec spec;
    spec.seq = seq;
    spec.seed = seq;
    spec.interval_start_unix_nano = kHourNs + seq * kSecond;
    batches.push_back(MakeBatch(spec));
  }
  std::atomic<int> stored{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (const weir::v1::FlowBatch& batch : batches) {
        absl::StatusOr<IngestResult> result =
            store_->WriteBatch(batch, AtNanos(kHourNs + 3600 * kSecond));
        EXPECT_TRUE(result.ok()) << result.status();
        if (result.ok() && !result->duplicate()) ++stored;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(stored.load(), kBatches);
  const std::vector<FlowRecord> raw = Raw();
  EXPECT_EQ(raw.size(), kBatches * 10u);
  ExpectSameRollups(Rollup(Tier::kMinute, View::kSrc),
                    Expected(raw, Tier::kMinute, View::kSrc), "1m/src");
  const std::vector<NodeInfo> nodes = store_->GetNodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].last_seq, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(nodes[0].gaps, 0u);
}

std::vector<const weir::v1::FlowBatch*> Pointers(
    const std::vector<weir::v1::FlowBatch>& batches) {
  std::vector<const weir::v1::FlowBatch*> pointers;
  pointers.reserve(batches.size());
  for (const weir::v1::FlowBatch& batch : batches) pointers.push_back(&batch);
  return pointers;
}

// What a store holds, as the tests below compare two stores.
struct Snapshot {
  std::vector<std::string> cursors;
  std::map<std::string, TotalsByKey> rollups;
  std::vector<NodeInfo> nodes;
};

TEST_P(StoreTest, WriteBatchesStoresWhatWriteBatchStoresOneByOne) {
  // Runs of two nodes, with a duplicate, a gap, a new epoch and a stale one
  // inside runs.
  std::vector<weir::v1::FlowBatch> batches;
  const auto add = [&](const std::string& node, uint64_t epoch, uint64_t seq) {
    BatchSpec spec;
    spec.node = node;
    spec.epoch = epoch;
    spec.seq = seq;
    spec.seed = batches.size() + 1;
    spec.interval_start_unix_nano = kHourNs + batches.size() * 20 * kSecond;
    spec.map_full_packets = batches.size();
    batches.push_back(MakeBatch(spec));
  };
  add("node-a", 1, 1);
  add("node-a", 1, 2);
  add("node-a", 1, 2);  // duplicate
  add("node-a", 1, 5);  // gap of 2
  add("node-b", 1, 7);
  add("node-a", 2, 1);  // new epoch
  add("node-a", 1, 9);  // stale
  add("node-a", 2, 2);
  const absl::Time at = AtNanos(kHourNs + 3600 * kSecond);
  const std::vector<const weir::v1::FlowBatch*> pointers = Pointers(batches);

  const auto snapshot = [&] {
    Snapshot snap;
    snap.cursors = Cursors();
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      for (View view : {View::kSrc, View::kDst, View::kPair, View::kSrcPort,
                        View::kDstPort, View::kProtocol, View::kNode}) {
        snap.rollups[absl::StrCat(TierName(tier), "/", ViewName(view))] =
            Rollup(tier, view);
      }
    }
    snap.nodes = store_->GetNodes();
    return snap;
  };

  const std::vector<absl::StatusOr<IngestResult>> together =
      store_->WriteBatches(pointers, at);
  const Snapshot grouped = snapshot();

  options_.data_dir = ScratchDir("WriteBatchesOneByOne");
  Reopen();
  std::vector<absl::StatusOr<IngestResult>> alone;
  alone.reserve(batches.size());
  for (const weir::v1::FlowBatch& batch : batches) {
    alone.push_back(store_->WriteBatch(batch, at));
  }
  const Snapshot single = snapshot();

  ASSERT_EQ(together.size(), batches.size());
  ASSERT_EQ(alone.size(), batches.size());
  const std::vector<IngestResult::Outcome> outcomes = {
      IngestResult::Outcome::kStored,     IngestResult::Outcome::kStored,
      IngestResult::Outcome::kDuplicate,  IngestResult::Outcome::kStored,
      IngestResult::Outcome::kStored,     IngestResult::Outcome::kStored,
      IngestResult::Outcome::kStaleEpoch, IngestResult::Outcome::kStored};
  for (size_t i = 0; i < batches.size(); ++i) {
    ASSERT_TRUE(together[i].ok()) << i << ": " << together[i].status();
    ASSERT_TRUE(alone[i].ok()) << i << ": " << alone[i].status();
    EXPECT_EQ(together[i]->outcome, outcomes[i]) << i;
    EXPECT_EQ(alone[i]->outcome, outcomes[i]) << i;
    EXPECT_EQ(together[i]->seq, batches[i].seq()) << i;
    EXPECT_EQ(together[i]->skipped_seqs, alone[i]->skipped_seqs) << i;
    EXPECT_EQ(together[i]->flows, alone[i]->flows) << i;
    EXPECT_EQ(together[i]->records.size(), alone[i]->records.size()) << i;
  }
  EXPECT_EQ(together[3]->skipped_seqs, 2u);

  // Raw flows under the same keys (batch numbers included), the same
  // rollups and the same node states.
  EXPECT_EQ(grouped.cursors.size(), 6u * 10u);
  EXPECT_EQ(grouped.cursors, single.cursors);
  for (const auto& [name, totals] : single.rollups) {
    ExpectSameRollups(grouped.rollups.at(name), totals, name);
  }
  ASSERT_EQ(grouped.nodes.size(), 2u);
  ASSERT_EQ(single.nodes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const NodeInfo& g = grouped.nodes[i];
    const NodeInfo& s = single.nodes[i];
    EXPECT_EQ(g.name, s.name);
    EXPECT_EQ(g.epoch, s.epoch);
    EXPECT_EQ(g.last_seq, s.last_seq);
    EXPECT_EQ(g.gaps, s.gaps);
    EXPECT_EQ(g.stale_batches, s.stale_batches);
    EXPECT_EQ(g.batches, s.batches);
    EXPECT_EQ(g.flows, s.flows);
    EXPECT_EQ(g.counters.packets_seen, s.counters.packets_seen);
    EXPECT_EQ(g.counters.lost_packets(), s.counters.lost_packets());
  }
  EXPECT_EQ(grouped.nodes[0].name, "node-a");
  EXPECT_EQ(grouped.nodes[0].batches, 5u);
  EXPECT_EQ(grouped.nodes[0].stale_batches, 1u);
}

TEST_P(StoreTest, WriteBatchesStopsAtAMalformedBatch) {
  std::vector<weir::v1::FlowBatch> batches;
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    BatchSpec spec;
    spec.seq = seq;
    spec.seed = seq;
    batches.push_back(MakeBatch(spec));
  }
  batches[2].mutable_flows(1)->set_dst_port(70000);
  const std::vector<const weir::v1::FlowBatch*> pointers = Pointers(batches);

  const std::vector<absl::StatusOr<IngestResult>> results =
      store_->WriteBatches(pointers, AtNanos(kHourNs));
  // The two before it are stored; it fails; the one after is not looked at.
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StartsWith(results[2].status().message(), "flows[1].dst_port: "))
      << results[2].status();
  EXPECT_EQ(Raw().size(), 20u);
  ASSERT_EQ(store_->GetNodes().size(), 1u);
  EXPECT_EQ(store_->GetNodes()[0].last_seq, 2u);
  // The batch after it was not stored: sent again, it is.
  EXPECT_EQ(Write(batches[3]).outcome, IngestResult::Outcome::kStored);
  EXPECT_EQ(Raw().size(), 30u);
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
  EXPECT_EQ(store_
                ->ScanRollup(Tier::kRaw, View::kSrc, kAllTime,
                             [](const RollupEntry&) { return true; })
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_
                ->ScanRollup(Tier::kMinute, View::kNodeCounters, kAllTime,
                             [](const RollupEntry&) { return true; })
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, SumRollupSumsEveryKeyOncePerRun) {
  // Flows in 100 minutes of two hours: the minute tier needs two runs of at
  // most kMaxSummedBuckets buckets, the hour tier one.
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    BatchSpec spec;
    spec.seq = seq;
    spec.seed = seq;
    spec.flows = 8;
    spec.address_pool = 4;
    spec.interval_start_unix_nano = kHourNs + seq * 60 * kSecond + kSecond;
    Write(MakeBatch(spec));
  }
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
  EXPECT_EQ(store_
                ->SumRollup(Tier::kRaw, View::kSrc, kAllTime,
                            [](const RollupEntry&) { return true; })
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, LookupRollupReadsTheKeysAsScanRollupHasThem) {
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    BatchSpec spec;
    spec.seq = seq;
    spec.seed = seq;
    spec.flows = 8;
    spec.address_pool = 4;
    spec.interval_start_unix_nano = kHourNs + seq * 150 * kSecond + kSecond;
    Write(MakeBatch(spec));
  }
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
  EXPECT_EQ(store_
                ->LookupRollup(Tier::kMinute, View::kNode, range, {},
                               [](const RollupEntry&) { return true; })
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

TEST_P(StoreTest, ACrashAfterRetentionLosesNoRollups) {
  // A batch's rollups go out without the WAL, then retention deletes the
  // raw flows a recovery of them would read, then the process dies. The
  // rollups must have reached disk before that deletion.
  options_.retention.raw = absl::Hours(1);
  options_.retention.minute = absl::Hours(3);
  options_.retention.hour = absl::Hours(10);
  store_.reset();
  const uint64_t now_ns = kHourNs + 30 * 60 * kSecond;
  // In raw when written, past raw's cutoff a minute later.
  const uint64_t seen_ns = now_ns - 3600 * kSecond + 5 * kSecond;
  const weir::v1::FlowBatch batch = OneFlowBatch(1, seen_ns, 7);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
        if (!store.ok()) std::_Exit(1);
        if (!(*store)->WriteBatch(batch, AtNanos(now_ns)).ok()) std::_Exit(2);
        if (!(*store)->FlushRollups().ok()) std::_Exit(3);
        if (!(*store)->EnforceRetention(AtNanos(now_ns + 60 * kSecond)).ok()) {
          std::_Exit(4);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  EXPECT_TRUE(Raw().empty());
  const std::vector<FlowRecord> flows = FlowRecordsOf(batch);
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      ExpectSameRollups(Rollup(tier, view), Expected(flows, tier, view),
                        absl::StrCat(TierName(tier), "/", ViewName(view)));
    }
  }
}

// The hour tier's end as the store has it, without closing any hour.
absl::Time HourEnd(const Store& store) {
  const absl::StatusOr<absl::Time> end = store.HourTierEnd(
      {absl::UnixEpoch(), absl::UnixEpoch()}, absl::InfiniteFuture());
  EXPECT_TRUE(end.ok()) << end.status();
  return end.ok() ? *end : absl::InfinitePast();
}

TEST_P(StoreTest, AnHourReachesTheHourTierWhenItCloses) {
  const absl::Time hour = absl::FromUnixSeconds(kHourSec);
  QueryNeeds needs;
  needs.dimensions = kDimSrcAddr;
  uint64_t seq = 0;
  Write(OneFlowBatch(++seq, kHourNs + 10 * 60 * kSecond, 3));
  Write(OneFlowBatch(++seq, kHourNs + 50 * 60 * kSecond, 4));
  // The newest flow is not kHourCloseDelay past the hour: it is open, and
  // queries read it from m1.
  EXPECT_LE(HourEnd(*store_), hour);
  absl::StatusOr<TierChoice> choice = store_->ChooseTier(
      {hour, hour + absl::Hours(1)}, hour + absl::Minutes(55), needs);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->source, "1m/src");
  EXPECT_LE(HourEnd(*store_), hour);

  // A flow past the delay closes it (the store's own thread, or the next
  // read that needs it, sums its minutes into h1).
  Write(OneFlowBatch(++seq, kHourNs + 66 * 60 * kSecond, 5));
  choice = store_->ChooseTier({hour, hour + absl::Hours(1)},
                              hour + absl::Minutes(66), needs);
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->source, "1h/src");
  EXPECT_EQ(HourEnd(*store_), hour + absl::Hours(1));

  // A late batch for the closed hour goes to both tiers, once.
  Write(OneFlowBatch(++seq, kHourNs + 20 * 60 * kSecond, 6),
        AtNanos(kHourNs + 67 * 60 * kSecond));
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 4u);
  const auto check = [&](absl::string_view when) {
    for (Tier tier : {Tier::kMinute, Tier::kHour}) {
      for (View view : kFlowViews) {
        ExpectSameRollups(
            Rollup(tier, view), Expected(raw, tier, view),
            absl::StrCat(when, " ", TierName(tier), "/", ViewName(view)));
      }
    }
  };
  check("before reopening");
  // A read of h1 closed the open hour too (it holds flows), so every stored
  // flow is in its answer; past the last hour with flows the end moved on
  // to the hours closed by now.
  const absl::Time end = HourEnd(*store_);
  EXPECT_GE(end, hour + absl::Hours(2));
  Reopen();
  EXPECT_EQ(HourEnd(*store_), end);
  check("after reopening");
}

TEST_P(StoreTest, ClosingAnHourLeavesTheBlockCacheAlone) {
  // Summing an hour reads each of its m1 blocks once: they stay out of
  // the block cache, which holds what queries read again and again.
  for (int minute = 0; minute < 60; ++minute) {
    BatchSpec spec;
    spec.seq = minute + 1;
    spec.seed = minute + 1;
    spec.flows = 1000;
    spec.address_pool = 1 << 16;
    spec.interval_start_unix_nano = kHourNs + minute * 60 * kSecond;
    Write(MakeBatch(spec));
  }
  ASSERT_TRUE(store_->Flush().ok());
  const uint64_t store_bytes = store_->ApproximateSize();
  const uint64_t before = store_->MemoryUsage().block_cache;
  // A flow past the close delay, then a read of h1, closes the hour.
  Write(OneFlowBatch(61, kHourNs + 66 * 60 * kSecond));
  const absl::Time hour = absl::FromUnixSeconds(kHourSec);
  const absl::StatusOr<absl::Time> end =
      store_->HourTierEnd({hour, hour + absl::Hours(1)}, hour + absl::Hours(2));
  ASSERT_TRUE(end.ok()) << end.status();
  ASSERT_EQ(*end, hour + absl::Hours(1));
  const uint64_t after = store_->MemoryUsage().block_cache;
  EXPECT_LT(after, before + store_bytes / 20)
      << "block cache " << before << " -> " << after << " bytes, store "
      << store_bytes << " bytes";
}

TEST_P(StoreTest, HoursCloseWhileBatchesForThemArrive) {
  // Two nodes keep storing batches spread over six hours while hours close
  // one by one (each summed from m1 while writers go on): every flow ends
  // up in h1 once.
  constexpr int kBatches = 600;
  constexpr int kHours = 6;
  std::atomic<int> written{0};
  std::vector<std::thread> writers;
  for (const std::string node : {"node-a", "node-b"}) {
    writers.emplace_back([this, node, &written] {
      for (int seq = 1; seq <= kBatches; ++seq) {
        BatchSpec spec;
        spec.node = node;
        spec.seq = seq;
        spec.seed = seq + (node == "node-a" ? 0 : 1000);
        spec.flows = 5;
        // Walks the hours in turn, so every hour keeps getting batches.
        spec.interval_start_unix_nano =
            kHourNs + (seq % kHours) * 3600 * kSecond + seq * 7 * kSecond;
        const weir::v1::FlowBatch batch = MakeBatch(spec);
        const absl::StatusOr<IngestResult> result =
            store_->WriteBatch(batch, AtNanos(kHourNs + 7 * 3600 * kSecond));
        EXPECT_TRUE(result.ok()) << result.status();
        ++written;
      }
    });
  }
  const absl::Time hour = absl::FromUnixSeconds(kHourSec);
  for (int h = 1; h <= kHours; ++h) {
    // Each hour closes a while into the writes (bounded wait).
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (written.load() < h * 2 * kBatches / (kHours + 2) &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    const absl::StatusOr<absl::Time> end = store_->HourTierEnd(
        {hour, hour + absl::Hours(h)}, hour + absl::Hours(h + 1));
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_GE(*end, hour + absl::Hours(h));
  }
  for (std::thread& writer : writers) writer.join();
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 2u * kBatches * 5);
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      ExpectSameRollups(Rollup(tier, view), Expected(raw, tier, view),
                        absl::StrCat(TierName(tier), "/", ViewName(view)));
    }
  }
}

TEST_P(StoreTest, AnHourHalfSummedIntoH1BeforeACrashIsSummedAgain) {
  // A memtable flush while an hour is being summed can bring some of its
  // h1 blocks to disk without the hour tier's end that closes it (written
  // with the last view). Such blocks are put here by hand: the next open
  // must drop them, so closing the hour counts each flow once.
  uint64_t seq = 0;
  for (uint64_t minute : {5, 30, 50}) {
    Write(OneFlowBatch(++seq, kHourNs + minute * 60 * kSecond, minute));
  }
  ASSERT_LE(HourEnd(*store_), absl::FromUnixSeconds(kHourSec));
  store_.reset();
  {
    RawDb raw(options_.data_dir);
    rocksdb::WriteBatch write;
    std::unique_ptr<rocksdb::Iterator> it(
        raw.db()->NewIterator(rocksdb::ReadOptions(), raw.family("m1")));
    int copied = 0;
    for (it->Seek(BucketPrefix(kHourSec + 5 * 60)); it->Valid(); it->Next()) {
      BlockKey key;
      if (!DecodeBlockKey(absl::string_view(it->key().data(), it->key().size()),
                          &key)) {
        continue;
      }
      if (key.bucket_start_sec != kHourSec + 5 * 60) break;
      // The minute's blocks as if they were the hour's, half-summed.
      std::string hour_key;
      AppendBlockKey({kHourSec, key.view, key.shard}, &hour_key);
      write.Put(raw.family("h1"), hour_key, it->value());
      ++copied;
    }
    ASSERT_TRUE(it->status().ok());
    ASSERT_GT(copied, 0);
    ASSERT_TRUE(raw.db()->Write(rocksdb::WriteOptions(), &write).ok());
  }
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  // The hour closes with a flow past the delay.
  Write(OneFlowBatch(++seq, kHourNs + 66 * 60 * kSecond, 9));
  const absl::Time hour = absl::FromUnixSeconds(kHourSec);
  const absl::StatusOr<absl::Time> end = store_->HourTierEnd(
      {hour, hour + absl::Hours(1)}, hour + absl::Minutes(66));
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(*end, hour + absl::Hours(1));
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 4u);
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      ExpectSameRollups(Rollup(tier, view), Expected(raw, tier, view),
                        absl::StrCat(TierName(tier), "/", ViewName(view)));
    }
  }
}

TEST_P(StoreTest, ACrashAfterAnHourClosedLosesAndDoublesNothing) {
  // The summing of a closed hour goes to memtables only (no WAL); batches
  // stored after it, for that hour, go to both tiers (with their WAL-logged
  // write when unbuffered). A crash loses the summing: the next open finds
  // the hour open again, and summing it again must neither lose those
  // batches nor count them twice.
  store_.reset();
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
        if (!store.ok()) std::_Exit(1);
        uint64_t seq = 0;
        for (uint64_t minute : {5, 30, 70}) {
          const weir::v1::FlowBatch batch =
              OneFlowBatch(++seq, kHourNs + minute * 60 * kSecond, minute);
          if (!(*store)
                   ->WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
                   .ok()) {
            std::_Exit(2);
          }
        }
        const absl::Time hour = absl::FromUnixSeconds(kHourSec);
        const absl::StatusOr<absl::Time> end = (*store)->HourTierEnd(
            {hour, hour + absl::Hours(1)}, hour + absl::Minutes(70));
        if (!end.ok() || *end != hour + absl::Hours(1)) std::_Exit(3);
        for (uint64_t minute : {10, 40}) {
          if (!(*store)
                   ->WriteBatch(
                       OneFlowBatch(++seq, kHourNs + minute * 60 * kSecond,
                                    minute),
                       AtNanos(kHourNs + 71 * 60 * kSecond))
                   .ok()) {
            std::_Exit(4);
          }
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 5u);
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      ExpectSameRollups(Rollup(tier, view), Expected(raw, tier, view),
                        absl::StrCat(TierName(tier), "/", ViewName(view)));
    }
  }
}

TEST_P(StoreTest, RetentionSumsAnHourIntoH1BeforeDeletingItsMinutes) {
  // m1 keeps 3 hours: retention at 5 hours past the data deletes its
  // minutes; the hour was never closed by a newer flow or a read, so
  // retention closes it first, and the summing reaches disk before the
  // deletion does (a crash right after loses neither).
  options_.retention.raw = absl::Hours(1);
  options_.retention.minute = absl::Hours(3);
  options_.retention.hour = absl::Hours(10);
  store_.reset();
  const weir::v1::FlowBatch batch =
      OneFlowBatch(1, kHourNs + 20 * 60 * kSecond, 9);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
        if (!store.ok()) std::_Exit(1);
        if (!(*store)
                 ->WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
                 .ok()) {
          std::_Exit(2);
        }
        if (!(*store)
                 ->EnforceRetention(AtNanos(kHourNs + 5 * 3600 * kSecond))
                 .ok()) {
          std::_Exit(3);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  const std::vector<FlowRecord> flows = FlowRecordsOf(batch);
  for (View view : kFlowViews) {
    EXPECT_TRUE(Rollup(Tier::kMinute, view).empty()) << ViewName(view);
    ExpectSameRollups(Rollup(Tier::kHour, view),
                      Expected(flows, Tier::kHour, view),
                      absl::StrCat("1h/", ViewName(view)));
  }
  EXPECT_GE(HourEnd(*store_), absl::FromUnixSeconds(kHourSec + 3 * 3600));
}

TEST_P(StoreTest, RetentionDropsExactlyTheOldBuckets) {
  options_.retention.raw = absl::Hours(1);
  options_.retention.minute = absl::Hours(3);
  options_.retention.hour = absl::Hours(10);
  Reopen();
  const uint64_t now_ns = kHourNs + (30 * 60 + 10) * kSecond;
  // Cutoffs: the first bucket each tier keeps.
  const uint64_t raw_cutoff = now_ns - 3600 * kSecond;  // whole second
  const uint64_t m1_cutoff =
      kHourNs - 150 * 60 * kSecond;  // now - 3 h, floored
  const uint64_t h1_cutoff = kHourNs - 10 * 3600 * kSecond;
  const std::vector<uint64_t> times = {
      h1_cutoff - 1,  h1_cutoff,  m1_cutoff - 1,    m1_cutoff,
      raw_cutoff - 1, raw_cutoff, now_ns - kSecond,
  };
  uint64_t seq = 0;
  for (uint64_t t : times) Write(OneFlowBatch(++seq, t), AtNanos(t));

  ASSERT_TRUE(store_->EnforceRetention(AtNanos(now_ns)).ok());
  std::vector<uint64_t> raw_times;
  for (const FlowRecord& f : Raw()) raw_times.push_back(f.last_seen_unix_nano);
  EXPECT_EQ(raw_times, (std::vector<uint64_t>{raw_cutoff, now_ns - kSecond}));

  auto buckets = [&](Tier tier) {
    std::set<int64_t> out;
    for (const auto& [key, totals] : Rollup(tier, View::kProtocol)) {
      out.insert(key.first);
    }
    return out;
  };
  auto counter_buckets = [&](Tier tier) {
    std::set<int64_t> out;
    for (const auto& [key, counters] : Counters(tier)) out.insert(key.first);
    return out;
  };
  const int64_t m1 = m1_cutoff / kSecond;
  const int64_t h1 = h1_cutoff / kSecond;
  const int64_t raw_minute = raw_cutoff / kSecond / 60 * 60;
  const int64_t raw_hour = raw_cutoff / kSecond / 3600 * 3600;
  const int64_t now_minute = (now_ns - kSecond) / kSecond / 60 * 60;
  EXPECT_EQ(buckets(Tier::kMinute),
            (std::set<int64_t>{m1, raw_minute, now_minute}));
  EXPECT_EQ(counter_buckets(Tier::kMinute), buckets(Tier::kMinute));
  EXPECT_EQ(buckets(Tier::kHour),
            (std::set<int64_t>{h1, m1 / 3600 * 3600, raw_hour,
                               static_cast<int64_t>(kHourSec)}));
  EXPECT_EQ(counter_buckets(Tier::kHour), buckets(Tier::kHour));

  // Again at the same time: nothing more goes.
  ASSERT_TRUE(store_->EnforceRetention(AtNanos(now_ns)).ok());
  EXPECT_EQ(Raw().size(), 2u);

  // A late batch older than the raw cutoff lands only in the tiers that
  // still keep its time.
  const IngestResult late =
      Write(OneFlowBatch(++seq, raw_cutoff - 10 * kSecond), AtNanos(now_ns));
  EXPECT_EQ(late.flows, 1u);
  EXPECT_EQ(Raw().size(), 2u);
  EXPECT_EQ(buckets(Tier::kMinute).size(), 3u);

  // After a restart retention starts from the first key again.
  Reopen();
  ASSERT_TRUE(store_->EnforceRetention(AtNanos(now_ns + 3600 * kSecond)).ok());
  raw_times.clear();
  for (const FlowRecord& f : Raw()) raw_times.push_back(f.last_seen_unix_nano);
  EXPECT_TRUE(raw_times.empty());
  EXPECT_EQ(*buckets(Tier::kHour).begin(), m1 / 3600 * 3600);
}

TEST_P(StoreTest, ChoosesTiersWithItsRetention) {
  options_.retention.raw = absl::Hours(2);
  Reopen();
  const absl::Time now = absl::FromUnixSeconds(kHourSec) + absl::Minutes(1);
  QueryNeeds needs;
  needs.dimensions = kDimSrcAddr;
  absl::StatusOr<TierChoice> choice = store_->ChooseTier(
      {now - absl::Hours(3) + absl::Seconds(1), now}, now, needs);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->source, "1m/src");
  EXPECT_FALSE(choice->exact);
}

TEST_P(StoreTest, ANewerFormatVersionIsRefused) {
  store_.reset();
  {
    RawDb raw(options_.data_dir);
    std::string version;
    PutU32(&version, kFormatVersion + 1);
    ASSERT_TRUE(raw.db()
                    ->Put(rocksdb::WriteOptions(), raw.family("meta"),
                          "format_version", version)
                    .ok());
  }
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            absl::StrCat("data directory ", options_.data_dir,
                         " was written by format version ", kFormatVersion + 1,
                         "; this weir-queryd reads up to ", kFormatVersion));
  // Refused without writing: the record is untouched.
  const absl::StatusOr<std::unique_ptr<Store>> again = Store::Open(options_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreTest, AnOlderDirectorySumsHoursFromTheNextOne) {
  // Format version 4 merged every hour into h1 as it came: once opened by
  // this version, its h1 holds every hour up to now, and summing starts at
  // the next one.
  Write(OneFlowBatch(1, kHourNs + 10 * 60 * kSecond, 3));
  // Every hour with flows is in h1, as version 4 left them.
  ASSERT_FALSE(Rollup(Tier::kHour, View::kSrc).empty());
  store_.reset();
  {
    RawDb raw(options_.data_dir);
    std::string version;
    PutU32(&version, 4);
    ASSERT_TRUE(raw.db()
                    ->Put(rocksdb::WriteOptions(), raw.family("meta"),
                          "format_version", version)
                    .ok());
    ASSERT_TRUE(raw.db()
                    ->Delete(rocksdb::WriteOptions(), raw.family("meta"),
                             "hour_tier_end")
                    .ok());
  }
  const absl::Time before = absl::Now();
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  const absl::Time end = HourEnd(*store_);
  const absl::Time next_hour =
      absl::UnixEpoch() +
      absl::Floor(before - absl::UnixEpoch(), absl::Hours(1)) + absl::Hours(1);
  EXPECT_GE(end, next_hour);
  EXPECT_LE(end, next_hour + absl::Hours(1));
  const std::vector<FlowRecord> raw = Raw();
  ExpectSameRollups(Rollup(Tier::kHour, View::kSrc),
                    Expected(raw, Tier::kHour, View::kSrc), "1h/src");
}

TEST_P(StoreTest, AStoreWithoutItsHourTierEndIsRefused) {
  Write(OneFlowBatch(1, kHourNs, 3));
  store_.reset();
  {
    RawDb raw(options_.data_dir);
    ASSERT_TRUE(raw.db()
                    ->Delete(rocksdb::WriteOptions(), raw.family("meta"),
                             "hour_tier_end")
                    .ok());
  }
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store.status().message(),
            absl::StrCat("data directory ", options_.data_dir,
                         " has no hour tier end record"));
}

TEST_P(StoreTest, AVersion2DirectoryIsConvertedToBlocks) {
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    BatchSpec spec;
    spec.node = seq % 3 == 0 ? "node-a" : "node-b";
    spec.seq = seq;
    spec.seed = seq;
    spec.flows = 25;
    spec.map_full_packets = seq % 4;
    spec.interval_start_unix_nano = kHourNs + seq * 151 * kSecond;
    Write(MakeBatch(spec));
  }
  const std::vector<FlowRecord> raw = Raw();
  const std::vector<std::string> cursors = Cursors();
  const auto counters_before = Counters(Tier::kMinute);
  store_.reset();
  // Rewrite the blocks of most buckets as version 2 wrote them: one key per
  // flow or rollup entry, half of the rollup entries as two merge operands
  // not yet folded. The rest stay blocks, as after a conversion that
  // stopped half-way.
  int converted = 0;
  int raw_converted = 0;
  {
    RawDb db(options_.data_dir);
    {
      rocksdb::ColumnFamilyHandle* family = db.family("raw");
      rocksdb::WriteBatch write;
      std::unique_ptr<rocksdb::Iterator> it(
          db.db()->NewIterator(rocksdb::ReadOptions(), family));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        RawBlockKey key;
        ASSERT_TRUE(DecodeRawBlockKey(
            absl::string_view(it->key().data(), it->key().size()), &key));
        if ((key.bucket_unix_nano >> kRawBucketBits) % 5 == 0) continue;
        RawBlock block;
        ASSERT_TRUE(block.Parse(
            absl::string_view(it->value().data(), it->value().size())));
        for (size_t i = 0; i < block.size(); ++i) {
          FlowRecord flow;
          ASSERT_TRUE(block.Flow(i, &flow));
          std::string value;
          AppendRawValue(flow, &value);
          write.Put(family,
                    EncodeRawKey({block.last_seen(i), key.node_id, key.batch,
                                  block.index(i)}),
                    value);
        }
        write.Delete(family, it->key());
        ++raw_converted;
      }
      ASSERT_TRUE(db.db()->Write(rocksdb::WriteOptions(), &write).ok());
    }
    for (const char* name : {"m1", "h1"}) {
      rocksdb::ColumnFamilyHandle* family = db.family(name);
      rocksdb::WriteBatch write;
      std::unique_ptr<rocksdb::Iterator> it(
          db.db()->NewIterator(rocksdb::ReadOptions(), family));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        BlockKey key;
        if (!DecodeBlockKey(
                absl::string_view(it->key().data(), it->key().size()), &key) ||
            key.bucket_start_sec % 7 == 0) {
          continue;
        }
        RollupBlock block;
        ASSERT_TRUE(block.Parse(
            absl::string_view(it->value().data(), it->value().size())));
        for (size_t i = 0; i < block.size(); ++i) {
          const std::string old_key =
              ViewPrefix(key.bucket_start_sec, key.view) +
              std::string{block.key(i)};
          const Totals totals = block.totals(i);
          std::string value;
          if (i % 2 == 0) {
            AppendTotalsValue(totals, &value);
            write.Put(family, old_key, value);
            continue;
          }
          Totals part = totals;
          part.bytes = totals.bytes / 2;
          part.packets = totals.packets / 2;
          part.flows = totals.flows / 2;
          AppendTotalsValue(part, &value);
          write.Merge(family, old_key, value);
          part.bytes = totals.bytes - part.bytes;
          part.packets = totals.packets - part.packets;
          part.flows = totals.flows - part.flows;
          value.clear();
          AppendTotalsValue(part, &value);
          write.Merge(family, old_key, value);
        }
        write.Delete(family, it->key());
        ++converted;
      }
      ASSERT_TRUE(db.db()->Write(rocksdb::WriteOptions(), &write).ok());
    }
    std::string version;
    PutU32(&version, 2);
    ASSERT_TRUE(db.db()
                    ->Put(rocksdb::WriteOptions(), db.family("meta"),
                          "format_version", version)
                    .ok());
  }
  ASSERT_GT(converted, 100);
  ASSERT_GT(raw_converted, 20);

  std::vector<std::string> progress;
  options_.progress = [&](absl::string_view line) {
    progress.emplace_back(line);
  };
  Reopen();
  options_.progress = nullptr;
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(progress[0],
            absl::StrCat("converting data directory ", options_.data_dir,
                         " from format version 2 to ", kFormatVersion,
                         " (rollups and raw flows as blocks); this reads the "
                         "whole store once"));
  EXPECT_TRUE(absl::StartsWith(
      progress[1], absl::StrCat("converted data directory ", options_.data_dir,
                                " to format version ", kFormatVersion, " in ")))
      << progress[1];
  // Every flow, in the same order, with the same cursors.
  const std::vector<FlowRecord> raw_after = Raw();
  ASSERT_EQ(raw_after.size(), raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(raw_after[i].node, raw[i].node) << i;
    EXPECT_EQ(raw_after[i].last_seen_unix_nano, raw[i].last_seen_unix_nano)
        << i;
    EXPECT_EQ(raw_after[i].src_addr, raw[i].src_addr) << i;
    EXPECT_EQ(raw_after[i].src_port, raw[i].src_port) << i;
    EXPECT_EQ(raw_after[i].bytes, raw[i].bytes) << i;
    EXPECT_EQ(raw_after[i].ifname, raw[i].ifname) << i;
  }
  EXPECT_EQ(Cursors(), cursors);
  for (Tier tier : {Tier::kMinute, Tier::kHour}) {
    for (View view : kFlowViews) {
      ExpectSameRollups(Rollup(tier, view), Expected(raw, tier, view),
                        absl::StrCat(TierName(tier), "/", ViewName(view)));
    }
  }
  const auto counters_after = Counters(Tier::kMinute);
  ASSERT_EQ(counters_after.size(), counters_before.size());
  for (const auto& [key, before] : counters_before) {
    const NodeCounters& after = counters_after.at(key);
    EXPECT_EQ(after.packets_seen, before.packets_seen);
    EXPECT_EQ(after.packets_exported, before.packets_exported);
    EXPECT_EQ(after.lost_packets(), before.lost_packets());
  }
  store_.reset();
  {
    // Nothing of the old layout is left, and the directory says so.
    RawDb db(options_.data_dir);
    std::unique_ptr<rocksdb::Iterator> raw_it(
        db.db()->NewIterator(rocksdb::ReadOptions(), db.family("raw")));
    for (raw_it->SeekToFirst(); raw_it->Valid(); raw_it->Next()) {
      RawBlockKey key;
      EXPECT_TRUE(DecodeRawBlockKey(
          absl::string_view(raw_it->key().data(), raw_it->key().size()), &key))
          << raw_it->key().ToString(true);
    }
    for (const char* name : {"m1", "h1"}) {
      std::unique_ptr<rocksdb::Iterator> it(
          db.db()->NewIterator(rocksdb::ReadOptions(), db.family(name)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const absl::string_view key(it->key().data(), it->key().size());
        BlockKey block_key;
        RollupKey rollup_key;
        EXPECT_TRUE(DecodeBlockKey(key, &block_key) ||
                    (DecodeRollupKey(key, &rollup_key) &&
                     rollup_key.view == View::kNodeCounters))
            << name << " " << it->key().ToString(true);
      }
    }
    std::string version;
    ASSERT_TRUE(db.db()
                    ->Get(rocksdb::ReadOptions(), db.family("meta"),
                          "format_version", &version)
                    .ok());
    std::string want;
    PutU32(&want, kFormatVersion);
    EXPECT_EQ(version, want);
  }
}

TEST_P(StoreTest, AnUndecodableMergeOperandIsFlaggedNotFatal) {
  Write(MakeBatch({}));
  const TotalsByKey before = Rollup(Tier::kMinute, View::kProtocol);
  ASSERT_FALSE(before.empty());
  store_.reset();
  int64_t junk_bucket = -1;
  {
    RawDb raw(options_.data_dir);
    std::unique_ptr<rocksdb::Iterator> it(
        raw.db()->NewIterator(rocksdb::ReadOptions(), raw.family("m1")));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key()[kBucketPrefixSize] == static_cast<char>(View::kProtocol)) {
        break;
      }
    }
    ASSERT_TRUE(it->Valid());
    uint64_t bucket = 0;
    ASSERT_TRUE(DecodeBucket(
        absl::string_view(it->key().data(), it->key().size()), &bucket));
    junk_bucket = static_cast<int64_t>(bucket);
    ASSERT_TRUE(raw.db()
                    ->Merge(rocksdb::WriteOptions(), raw.family("m1"),
                            it->key(), "junk")
                    .ok());
  }
  Reopen();
  auto check = [&](absl::string_view when) {
    const TotalsByKey after = Rollup(Tier::kMinute, View::kProtocol);
    ASSERT_EQ(after.size(), before.size()) << when;
    // The flag covers the block: every entry of its bucket (one shard for
    // protocols), and nothing else.
    int damaged = 0;
    for (const auto& [key, totals] : after) {
      const Totals& was = before.at(key);
      EXPECT_EQ(totals.bytes, was.bytes) << when;
      EXPECT_EQ(totals.flows, was.flows) << when;
      EXPECT_EQ(totals.damaged, key.first == junk_bucket) << when;
      damaged += totals.damaged;
    }
    EXPECT_GT(damaged, 0) << when;
  };
  check("on read");
  // Compaction folds the operand away without failing (a failed compaction
  // would stop every write); the flag stays.
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_TRUE(store_->Compact().ok());
  check("after compaction");
  BatchSpec spec;
  spec.seq = 2;
  EXPECT_EQ(Write(MakeBatch(spec)).outcome, IngestResult::Outcome::kStored);
}

TEST_P(StoreTest, ADirectoryThatIsNoStoreIsRefused) {
  store_.reset();
  const std::string dir = ScratchDir("not_a_store");
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "hello", "world").ok());
    delete db;
  }
  options_.data_dir = dir;
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.status().message(),
            absl::StrCat("data directory ", dir,
                         " is not a weir-queryd store (no meta column "
                         "family)"));
}

TEST_P(StoreTest, OpenChecksItsOptionsAndDirectory) {
  StoreOptions options = options_;
  options.data_dir = ScratchDir("missing") + "/deeper/store";
  options.create_if_missing = false;
  EXPECT_EQ(Store::Open(options).status().code(), absl::StatusCode::kNotFound);
  options.create_if_missing = true;
  EXPECT_TRUE(Store::Open(options).ok());

  options.data_dir = "";
  EXPECT_EQ(Store::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = options_;
  options.retention.minute = absl::ZeroDuration();
  EXPECT_EQ(Store::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Already open in this process: RocksDB's lock refuses a second open.
  EXPECT_FALSE(Store::Open(options_).ok());
}

TEST_P(StoreTest, SyncedWritesWork) {
  options_.sync_writes = true;
  Reopen();
  EXPECT_EQ(Write(MakeBatch({})).outcome, IngestResult::Outcome::kStored);
  Reopen();
  EXPECT_EQ(Raw().size(), 10u);
}

}  // namespace
}  // namespace weir::store
