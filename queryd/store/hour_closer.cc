#include "queryd/store/hour_closer.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "queryd/store/encoding.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_block.h"
#include "rocksdb/iterator.h"

namespace weir::store {

HourCloser::HourCloser(const RocksDb& db, const StoreReader& reader,
                       RollupFlusher& flusher, TierBounds& bounds,
                       absl::Duration close_delay)
    : db_(db),
      reader_(reader),
      flusher_(flusher),
      bounds_(bounds),
      close_delay_(close_delay) {}

void HourCloser::Stored(uint64_t newest_ns) {
  uint64_t seen = newest_flow_ns_.load();
  while (newest_ns > seen &&
         !newest_flow_ns_.compare_exchange_weak(seen, newest_ns)) {
  }
}

absl::Status HourCloser::CloseHoursPassed() {
  const uint64_t closed_sec = ClosedByFlowsSec();
  if (closed_sec <= bounds_.hour_end_sec.load()) return absl::OkStatus();
  return CloseHours(closed_sec, closed_sec);
}

uint64_t HourCloser::ClosedByFlowsSec() const {
  const uint64_t newest_ns =
      std::min(newest_flow_ns_.load(), ToUnixNanosClamped(absl::Now()));
  const uint64_t delay_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(close_delay_));
  if (newest_ns < delay_ns) return 0;
  return BucketStartSec(newest_ns - delay_ns, Tier::kHour);
}

absl::Status HourCloser::CloseHours(uint64_t end_sec, uint64_t skip_to_sec,
                                    bool* summed) {
  constexpr uint64_t kHourSec = 3600;
  end_sec -= end_sec % kHourSec;
  skip_to_sec = std::min(end_sec, skip_to_sec - skip_to_sec % kHourSec);
  absl::MutexLock close_lock(&mu_);
  while (bounds_.hour_end_sec.load() < end_sec) {
    const uint64_t hour_end = bounds_.hour_end_sec.load();
    uint64_t next = skip_to_sec;
    uint64_t hour = 0;
    bool sum = false;
    std::optional<rocksdb::ManagedSnapshot> snapshot;
    {
      absl::MutexLock flush_lock(&flusher_.mu());
      // Exclusive: a writer merging rollups with its batch (no buffer)
      // picks their tiers by bounds_.merge_end_sec under a shared lock.
      absl::MutexLock retention_lock(&bounds_.retention_mu);
      WEIR_RETURN_IF_ERROR(flusher_.FlushLocked());
      // The next hour m1 holds anything of (flows, or node counters).
      std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(
          rocksdb::ReadOptions(), db_.cf(Family::kMinute)));
      it->Seek(BucketPrefix(hour_end));
      if (it->Valid()) {
        if (!DecodeBucket(absl::string_view(it->key().data(), it->key().size()),
                          &hour)) {
          return UndecodableEntry(Tier::kMinute, View::kSrc, hour_end);
        }
        hour -= hour % kHourSec;
        if (hour < end_sec) {
          next = hour + kHourSec;
          sum =
              hour >= bounds_.retained_from_sec[static_cast<int>(Tier::kHour)];
        }
      } else if (absl::Status s = FromRocksDb(it->status(), "reading m1");
                 !s.ok()) {
        return s;
      }
      if (next <= hour_end) break;
      if (sum) snapshot.emplace(db_.db());
      bounds_.merge_end_sec = next;
    }
    // One write per view bounds its size; the last one moves the end.
    rocksdb::WriteOptions unlogged;
    unlogged.disableWAL = true;
    rocksdb::WriteBatch write;
    if (sum) {
      for (size_t v = 0; v < std::size(kFlowViews); ++v) {
        WEIR_RETURN_IF_ERROR(
            SumHourView(hour, kFlowViews[v], snapshot->snapshot(), &write));
        if (v + 1 == std::size(kFlowViews)) break;
        WEIR_RETURN_IF_ERROR(FromRocksDb(db_.db()->Write(unlogged, &write),
                                         "summing an hour into h1"));
        write.Clear();
      }
      if (summed != nullptr) *summed = true;
    }
    std::string value;
    PutU64(&value, next);
    write.Put(db_.cf(Family::kMeta), std::string{kHourTierEndKey}, value);
    WEIR_RETURN_IF_ERROR(FromRocksDb(db_.db()->Write(unlogged, &write),
                                     "closing an hour of h1"));
    bounds_.hour_end_sec = next;
  }
  return absl::OkStatus();
}

absl::Status HourCloser::ClearOpenHours() {
  // Point deletions, not DeleteRange: h1's memtable takes insert hints by
  // bucket prefix, and RocksDB shares them between a memtable's point and
  // range deletion lists, which the next write to that bucket would then
  // corrupt.
  rocksdb::WriteBatch write;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Family::kHour)));
  for (it->Seek(BucketPrefix(bounds_.hour_end_sec.load())); it->Valid();
       it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    BlockKey block;
    if (DecodeBlockKey(key, &block))
      write.Delete(db_.cf(Family::kHour), it->key());
  }
  WEIR_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading h1"));
  if (write.Count() == 0) return absl::OkStatus();
  return db_.Write(&write, "clearing h1's open hours");
}

absl::Status HourCloser::SumHourView(uint64_t hour_sec, View view,
                                     const rocksdb::Snapshot* snapshot,
                                     rocksdb::WriteBatch* out) const {
  const size_t key_size = ViewKeySize(view);
  BlockBuilder block(key_size);
  int shard = -1;
  std::string block_key;
  const auto put = [&] {
    if (block.empty()) return;
    block_key.clear();
    AppendBlockKey({hour_sec, view, static_cast<uint16_t>(shard)}, &block_key);
    const absl::string_view value = block.value();
    out->Merge(db_.cf(Family::kHour), block_key,
               rocksdb::Slice(value.data(), value.size()));
    block.Reset(key_size);
  };
  // Keys come shard by shard, in key order within one: each shard's run
  // is its h1 block. A few shards per pass: the pass's iterators pin the
  // memtables they started on, which ingest meanwhile fills and flushes.
  constexpr uint16_t kShardsPerPass = 8;
  // Every m1 block of the hour is read once: kept out of the block cache,
  // where it would push out the blocks queries read again and again.
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  const uint16_t shards = ShardCount(view);
  for (uint16_t begin = 0; begin < shards; begin += kShardsPerPass) {
    absl::Status s = reader_.MergeShards(
        Tier::kMinute, view, hour_sec, hour_sec + 3600, 60, begin,
        std::min<uint16_t>(shards, begin + kShardsPerPass),
        [&](absl::string_view view_key, const Totals& totals) {
          const int of = ShardOf(view, view_key);
          if (of != shard) {
            put();
            shard = of;
          }
          block.Add(view_key, totals);
          if (totals.damaged) block.MarkDamaged();
          return true;
        },
        read);
    if (!s.ok()) return s;
  }
  put();
  return absl::OkStatus();
}

absl::Status HourCloser::ReadyToRead(Tier tier, const TimeRange& range) {
  if (tier != Tier::kHour || range.start >= range.end) return flusher_.Flush();
  // Every hour starting before the range's end.
  constexpr uint64_t kHourSec = 3600;
  const uint64_t end_sec =
      (CeilUnixSeconds(range.end) + kHourSec - 1) / kHourSec * kHourSec;
  if (end_sec <= bounds_.hour_end_sec.load()) return flusher_.Flush();
  // Empty hours are skipped only up to the ones that have closed by now.
  const uint64_t closed_sec = BucketStartSec(
      ToUnixNanosClamped(absl::Now() - close_delay_), Tier::kHour);
  WEIR_RETURN_IF_ERROR(CloseHours(end_sec, closed_sec));
  // CloseHours writes the buffer out only when it closes an hour itself,
  // and writes go on while it sums: what was acked before this read must
  // be in either way.
  return flusher_.Flush();
}

absl::StatusOr<absl::Time> HourCloser::HourTierEnd(const TimeRange& range,
                                                   absl::Time now) {
  if (range.start < range.end) {
    // The hours wholly inside the range that have closed by `now`.
    const uint64_t end_sec = std::min(
        BucketStartSec(ToUnixNanosClamped(range.end), Tier::kHour),
        BucketStartSec(ToUnixNanosClamped(now - close_delay_), Tier::kHour));
    if (end_sec > bounds_.hour_end_sec.load()) {
      WEIR_RETURN_IF_ERROR(CloseHours(end_sec, end_sec));
    }
  }
  return absl::FromUnixSeconds(
      static_cast<int64_t>(bounds_.hour_end_sec.load()));
}

}  // namespace weir::store
