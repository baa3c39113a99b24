// Closing hours into h1 (hour_closer.h), through the store's interface.

#include "queryd/store/store_test_fixture.h"

namespace weir::store {
namespace {

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
  ExpectRollupsOf(raw, "before reopening");
  // A read of h1 closed the open hour too (it holds flows), so every stored
  // flow is in its answer; past the last hour with flows the end moved on
  // to the hours closed by now.
  const absl::Time end = HourEnd(*store_);
  EXPECT_GE(end, hour + absl::Hours(2));
  Reopen();
  EXPECT_EQ(HourEnd(*store_), end);
  ExpectRollupsOf(raw, "after reopening");
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
  ExpectRollupsOf(raw);
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
  ExpectRollupsOf(raw);
}

TEST_P(StoreTest, ACrashAfterAnHourClosedLosesAndDoublesNothing) {
  // The summing of a closed hour goes to memtables only (no WAL); batches
  // stored after it, for that hour, go to both tiers (with their WAL-logged
  // write when unbuffered). A crash loses the summing: the next open finds
  // the hour open again, and summing it again must neither lose those
  // batches nor count them twice.
  store_.reset();
  CrashAfter([&](Store& store) {
    uint64_t seq = 0;
    for (uint64_t minute : {5, 30, 70}) {
      const weir::v1::FlowBatch batch =
          OneFlowBatch(++seq, kHourNs + minute * 60 * kSecond, minute);
      if (!store.WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
               .ok()) {
        return 2;
      }
    }
    const absl::Time hour = absl::FromUnixSeconds(kHourSec);
    const absl::StatusOr<absl::Time> end = store.HourTierEnd(
        {hour, hour + absl::Hours(1)}, hour + absl::Minutes(70));
    if (!end.ok() || *end != hour + absl::Hours(1)) return 3;
    for (uint64_t minute : {10, 40}) {
      if (!store
               .WriteBatch(
                   OneFlowBatch(++seq, kHourNs + minute * 60 * kSecond, minute),
                   AtNanos(kHourNs + 71 * 60 * kSecond))
               .ok()) {
        return 4;
      }
    }
    return 0;
  });

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  const std::vector<FlowRecord> raw = Raw();
  ASSERT_EQ(raw.size(), 5u);
  ExpectRollupsOf(raw);
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
  CrashAfter([&](Store& store) {
    if (!store.WriteBatch(batch, AtNanos(batch.interval_end_unix_nano()))
             .ok()) {
      return 2;
    }
    if (!store.EnforceRetention(AtNanos(kHourNs + 5 * 3600 * kSecond)).ok()) {
      return 3;
    }
    return 0;
  });

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

}  // namespace
}  // namespace weir::store
