// The store through its interface: writes and exactly-once, what reopening
// keeps, retention, options.

#include "queryd/store/store.h"

#include "queryd/store/store_test_fixture.h"

namespace weir::store {
namespace {

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

  const NodeInfo node = OnlyNode();
  EXPECT_EQ(node.last_seq, 5u);
  EXPECT_EQ(node.batches, 2u);
  EXPECT_EQ(node.flows, 20u);
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

  const NodeInfo node = OnlyNode();
  EXPECT_EQ(node.epoch, 2u);
  EXPECT_EQ(node.last_seq, 1u);
  EXPECT_EQ(node.stale_batches, 1u);
  EXPECT_EQ(node.gaps, 0u);
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

  NodeInfo node = OnlyNode();
  EXPECT_EQ(node.gaps, 4u);
  EXPECT_EQ(Raw().size(), 30u);

  Reopen();
  node = OnlyNode();
  EXPECT_EQ(node.gaps, 4u);
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
    BatchSpec spec = SpacedBatch(seq, 113, 10);
    spec.node = "node-a";
    Write(MakeBatch(spec));
  }

  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 3u * 40 * 25 + 20 * 10);
  ExpectRollupsOf(raw, "before compaction");
  ASSERT_TRUE(store_->Compact().ok());
  ExpectRollupsOf(raw, "after compaction");

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
  const NodeInfo node = OnlyNode();
  EXPECT_EQ(node.last_seq, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(node.gaps, 0u);
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
