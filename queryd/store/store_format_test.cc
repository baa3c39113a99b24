// Format versions and conversions at open (format_upgrade.h), through the
// store's interface.

#include "queryd/store/store_test_fixture.h"

namespace weir::store {
namespace {

TEST_P(StoreTest, ANewerFormatVersionIsRefused) {
  store_.reset();
  {
    RawDb raw(options_.data_dir);
    raw.SetFormatVersion(kFormatVersion + 1);
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
    raw.SetFormatVersion(4);
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
    BatchSpec spec = SpacedBatch(seq, 151, 25);
    spec.node = seq % 3 == 0 ? "node-a" : "node-b";
    spec.map_full_packets = seq % 4;
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
    db.SetFormatVersion(2);
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
  ExpectRollupsOf(raw);
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

}  // namespace
}  // namespace weir::store
