#include "queryd/store/store_reader.h"

#include <algorithm>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/iterator.h"

namespace weir::store {

struct SummedList {
  struct Entry {
    uint32_t offset;
    uint32_t size;
    Totals totals;
  };
  std::string keys;
  std::vector<Entry> entries;

  absl::string_view key(const Entry& e) const {
    return absl::string_view(keys).substr(e.offset, e.size);
  }
  bool Add(absl::string_view key, const Totals& totals) {
    entries.push_back({static_cast<uint32_t>(keys.size()),
                       static_cast<uint32_t>(key.size()), totals});
    keys.append(key.data(), key.size());
    return true;
  }
  // Empty, keeping the memory.
  void Clear() {
    keys.clear();
    entries.clear();
  }
};

namespace {

// SumRollup merges a run's shards on two threads when the run has at least
// this many buckets; below, a thread costs more than it saves.
constexpr uint64_t kMinBucketsForThreads = 6;

// Sets the fields of `entry` that `key` (of entry's view) keeps. False
// when the key names a node the store does not know.
bool SetEntryKey(const RollupKey& key, const std::vector<std::string>& names,
                 RollupEntry* entry) {
  entry->view = key.view;
  entry->src_addr = key.src_addr;
  entry->dst_addr = key.dst_addr;
  entry->protocol = key.protocol;
  entry->port = key.port;
  entry->bucket =
      absl::FromUnixSeconds(static_cast<int64_t>(key.bucket_start_sec));
  if (key.view == View::kNode) {
    if (key.node_id >= names.size()) return false;
    entry->node = names[key.node_id];
    entry->direction = static_cast<weir::v1::Direction>(key.direction);
    entry->ifname = key.ifname;
  }
  return true;
}

}  // namespace

StoreReader::StoreReader(const RocksDb& db, const NodeRegistry& nodes)
    : db_(db), nodes_(nodes) {}

StoreReader::~StoreReader() = default;

absl::Status CheckFlowView(Tier tier, View view) {
  if (tier == Tier::kRaw) {
    return absl::InvalidArgumentError(
        "tier: raw has no rollup views; use ScanRaw");
  }
  if (view == View::kNodeCounters) {
    return absl::InvalidArgumentError(
        "view: node_counters is not a flow view; use ScanNodeCounters");
  }
  return absl::OkStatus();
}

absl::Status UndecodableEntry(Tier tier, View view, uint64_t bucket_start_sec) {
  return absl::DataLossError(absl::StrCat("undecodable rollup entry in ",
                                          TierName(tier), "/", ViewName(view),
                                          " at bucket ", bucket_start_sec));
}

absl::Status StoreReader::ScanRaw(const TimeRange& range, bool newest_first,
                                  absl::string_view scan_cursor,
                                  uint64_t retained_from_ns,
                                  RawVisitor visit) const {
  uint64_t start = ToUnixNanosClamped(range.start);
  uint64_t end = ToUnixNanosClamped(range.end);
  // What retention deleted stays deleted to the ns, though whole raw
  // buckets go only once they are wholly past the cutoff.
  start = std::max(start, retained_from_ns);
  RawKey cursor;
  const bool resume = !scan_cursor.empty();
  if (resume) {
    if (!DecodeRawKey(scan_cursor, &cursor)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cursor: not a flow cursor (", scan_cursor.size(), " bytes)"));
    }
    if (newest_first) {
      end = std::min(end, cursor.last_seen_unix_nano + 1);
    } else {
      start = std::max(start, cursor.last_seen_unix_nano);
    }
  }
  if (start >= end) return absl::OkStatus();

  const RangeIterator it(db_, Family::kRaw, RawTimeBound(RawBucketStart(start)),
                         RawTimeBound(end));
  // Names after the iterator: a node gets its id before its first write, so
  // every node of a flow the iterator sees is named.
  const std::shared_ptr<const NodeNames> names = nodes_.names();
  const auto tie = [](const RawKey& k) {
    return std::tie(k.last_seen_unix_nano, k.node_id, k.batch, k.index);
  };

  // Bucket by bucket (in scan order): the flows of every block in it, put
  // in raw key order.
  struct Listed {
    RawKey key;
    size_t block;
    size_t flow;
  };
  std::vector<RawBlockKey> block_keys;
  std::vector<std::string> values;
  std::vector<RawBlock> blocks;
  std::vector<Listed> listed;
  FlowRecord flow;
  std::string cursor_of_flow;
  const auto undecodable = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat("undecodable raw ", what));
  };
  newest_first ? it->SeekToLast() : it->SeekToFirst();
  while (it->Valid()) {
    block_keys.clear();
    values.clear();
    RawBlockKey key;
    uint64_t bucket = 0;
    for (; it->Valid(); newest_first ? it->Prev() : it->Next()) {
      if (!DecodeRawBlockKey(
              absl::string_view(it->key().data(), it->key().size()), &key)) {
        return undecodable(
            absl::StrCat("block key ", it->key().ToString(true)));
      }
      if (!block_keys.empty() && key.bucket_unix_nano != bucket) break;
      bucket = key.bucket_unix_nano;
      block_keys.push_back(key);
      values.emplace_back(it->value().data(), it->value().size());
    }
    blocks.resize(values.size());
    listed.clear();
    for (size_t b = 0; b < values.size(); ++b) {
      if (!blocks[b].Parse(values[b]) ||
          block_keys[b].node_id >= names->size()) {
        return undecodable(absl::StrCat("block of node id ",
                                        block_keys[b].node_id, ", batch ",
                                        block_keys[b].batch));
      }
      for (size_t i = 0; i < blocks[b].size(); ++i) {
        const RawKey k = {blocks[b].last_seen(i), block_keys[b].node_id,
                          block_keys[b].batch, blocks[b].index(i)};
        if (k.last_seen_unix_nano < start || k.last_seen_unix_nano >= end) {
          continue;
        }
        if (resume &&
            (newest_first ? tie(k) >= tie(cursor) : tie(k) <= tie(cursor))) {
          continue;
        }
        listed.push_back({k, b, i});
      }
    }
    std::sort(listed.begin(), listed.end(),
              [&](const Listed& a, const Listed& b) {
                return newest_first ? tie(a.key) > tie(b.key)
                                    : tie(a.key) < tie(b.key);
              });
    for (const Listed& l : listed) {
      if (!blocks[l.block].Flow(l.flow, &flow)) {
        return undecodable(absl::StrCat("flow of node id ", l.key.node_id,
                                        ", batch ", l.key.batch));
      }
      flow.node = (*names)[l.key.node_id];
      cursor_of_flow.clear();
      AppendRawKey(l.key, &cursor_of_flow);
      if (!visit(flow, cursor_of_flow)) return absl::OkStatus();
    }
  }
  return FromRocksDb(it->status(), "scanning raw flows");
}

absl::Status StoreReader::ScanView(
    Tier tier, View view, const TimeRange& range,
    absl::FunctionRef<absl::Status(uint64_t bucket, absl::string_view key,
                                   absl::string_view value,
                                   const NodeNames& names, bool* more)>
        visit) const {
  if (tier == Tier::kRaw) {
    return absl::InvalidArgumentError(
        "tier: raw has no rollup views; use ScanRaw");
  }
  const uint64_t first = CeilUnixSeconds(range.start);
  const uint64_t end = CeilUnixSeconds(range.end);
  if (first >= end) return absl::OkStatus();
  const RangeIterator it(db_, TierFamily(tier), BucketPrefix(first),
                         BucketPrefix(end));
  // As in ScanRaw: names after the iterator.
  const std::shared_ptr<const NodeNames> names = nodes_.names();

  // Keys are [bucket][view]...: read this view's run in a bucket, then seek
  // straight to the same view of the next bucket present.
  const uint8_t wanted = static_cast<uint8_t>(view);
  bool more = true;
  it->Seek(ViewPrefix(first, view));
  while (more && it->Valid()) {
    const absl::string_view k(it->key().data(), it->key().size());
    uint64_t bucket = 0;
    if (k.size() < kViewPrefixSize || !DecodeBucket(k, &bucket)) {
      return absl::DataLossError(
          absl::StrCat("undecodable rollup key ", it->key().ToString(true)));
    }
    const uint8_t id = static_cast<uint8_t>(k[kBucketPrefixSize]);
    if (id < wanted) {
      it->Seek(ViewPrefix(bucket, view));
      continue;
    }
    if (id > wanted) {
      if (bucket + 1 >= end) break;
      it->Seek(ViewPrefix(bucket + 1, view));
      continue;
    }
    WEIR_RETURN_IF_ERROR(visit(
        bucket, k, absl::string_view(it->value().data(), it->value().size()),
        *names, &more));
    it->Next();
  }
  return FromRocksDb(
      it->status(),
      absl::StrCat("scanning rollups ", TierName(tier), "/", ViewName(view)));
}

absl::Status StoreReader::ScanRollup(Tier tier, View view,
                                     const TimeRange& range,
                                     RollupVisitor visit) const {
  if (view == View::kNodeCounters) {
    return absl::InvalidArgumentError(
        "view: node_counters is not a flow view; use ScanNodeCounters");
  }
  RollupEntry entry;
  RollupKey key;
  RollupBlock block;
  return ScanView(
      tier, view, range,
      [&](uint64_t bucket, absl::string_view k, absl::string_view value,
          const NodeNames& names, bool* more) -> absl::Status {
        BlockKey block_key;
        if (!DecodeBlockKey(k, &block_key) || !block.Parse(value) ||
            block.key_size() != ViewKeySize(view)) {
          return UndecodableEntry(tier, view, bucket);
        }
        key.bucket_start_sec = bucket;
        for (size_t i = 0; i < block.size(); ++i) {
          if (!DecodeViewKey(view, block.key(i), &key) ||
              !SetEntryKey(key, names, &entry)) {
            return UndecodableEntry(tier, view, bucket);
          }
          entry.totals = block.totals(i);
          if (!visit(entry)) {
            *more = false;
            break;
          }
        }
        return absl::OkStatus();
      });
}

absl::Status StoreReader::PresentBuckets(Tier tier, const TimeRange& range,
                                         uint64_t* first, uint64_t* end) const {
  *first = CeilUnixSeconds(range.start);
  *end = CeilUnixSeconds(range.end);
  if (*first >= *end) return absl::OkStatus();
  const std::string lower = BucketPrefix(*first);
  const std::string upper = BucketPrefix(*end);
  const rocksdb::Slice lower_bound(lower);
  const rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower_bound;
  read.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.db()->NewIterator(read, db_.cf(TierFamily(tier))));
  const auto bucket_of_key = [&](uint64_t* bucket) {
    return DecodeBucket(absl::string_view(it->key().data(), it->key().size()),
                        bucket);
  };
  it->SeekToFirst();
  if (!it->Valid()) {
    *end = *first;
    return FromRocksDb(it->status(),
                       absl::StrCat("scanning rollups ", TierName(tier)));
  }
  uint64_t last = 0;
  if (!bucket_of_key(first)) {
    return absl::DataLossError(
        absl::StrCat("undecodable rollup key ", it->key().ToString(true)));
  }
  it->SeekToLast();
  if (!it->Valid() || !bucket_of_key(&last)) {
    return absl::DataLossError(absl::StrCat("undecodable last rollup key in ",
                                            TierName(tier), " (",
                                            it->status().ToString(), ")"));
  }
  *end = std::min(*end, last + 1);
  return absl::OkStatus();
}

absl::Status StoreReader::SumRollup(Tier tier, View view,
                                    const TimeRange& range,
                                    RollupVisitor visit) const {
  WEIR_RETURN_IF_ERROR(CheckFlowView(tier, view));
  const uint64_t resolution =
      static_cast<uint64_t>(absl::ToInt64Seconds(TierResolution(tier)));
  // Runs over an unbounded range would never end.
  uint64_t first = 0;
  uint64_t end = 0;
  WEIR_RETURN_IF_ERROR(PresentBuckets(tier, range, &first, &end));
  bool more = true;
  for (uint64_t run_start = first; more && run_start < end;
       run_start += resolution * kMaxSummedBuckets) {
    const uint64_t run_end =
        std::min(end, run_start + resolution * kMaxSummedBuckets);
    WEIR_RETURN_IF_ERROR(
        SumRun(tier, view, run_start, run_end, resolution, visit, &more));
  }
  return absl::OkStatus();
}

absl::Status StoreReader::LookupRollup(Tier tier, View view,
                                       const TimeRange& range,
                                       absl::Span<const RollupEntry> keys,
                                       RollupVisitor visit) const {
  WEIR_RETURN_IF_ERROR(CheckFlowView(tier, view));
  if (view == View::kNode) {
    return absl::InvalidArgumentError(
        "view: node keys hold node ids, not names; use ScanRollup");
  }
  const uint64_t resolution =
      static_cast<uint64_t>(absl::ToInt64Seconds(TierResolution(tier)));
  uint64_t first = 0;
  uint64_t end = 0;
  WEIR_RETURN_IF_ERROR(PresentBuckets(tier, range, &first, &end));
  // The wanted view keys by shard: one block read per bucket and shard.
  struct Wanted {
    uint16_t shard;
    std::string view_key;
  };
  std::vector<Wanted> wanted;
  wanted.reserve(keys.size());
  RollupKey key;
  key.view = view;
  for (const RollupEntry& k : keys) {
    key.src_addr = k.src_addr;
    key.dst_addr = k.dst_addr;
    key.protocol = k.protocol;
    key.port = k.port;
    Wanted w;
    AppendViewKey(key, &w.view_key);
    w.shard = ShardOf(view, w.view_key);
    wanted.push_back(std::move(w));
  }
  std::stable_sort(
      wanted.begin(), wanted.end(),
      [](const Wanted& a, const Wanted& b) { return a.shard < b.shard; });

  std::string block_key;
  rocksdb::PinnableSlice value;
  RollupBlock block;
  RollupEntry entry;
  for (uint64_t bucket = first; bucket < end; bucket += resolution) {
    key.bucket_start_sec = bucket;
    for (size_t i = 0; i < wanted.size();) {
      const uint16_t shard = wanted[i].shard;
      size_t j = i;
      while (j < wanted.size() && wanted[j].shard == shard) ++j;
      block_key.clear();
      AppendBlockKey({bucket, view, shard}, &block_key);
      value.Reset();
      const rocksdb::Status got = db_.db()->Get(
          rocksdb::ReadOptions(), db_.cf(TierFamily(tier)), block_key, &value);
      if (got.IsNotFound()) {
        i = j;
        continue;
      }
      if (!got.ok()) {
        return FromRocksDb(got, absl::StrCat("reading rollups ", TierName(tier),
                                             "/", ViewName(view)));
      }
      if (!block.Parse(absl::string_view(value.data(), value.size())) ||
          block.key_size() != ViewKeySize(view)) {
        return UndecodableEntry(tier, view, bucket);
      }
      for (; i < j; ++i) {
        const size_t found = block.Find(wanted[i].view_key);
        if (found == block.size()) continue;
        if (!DecodeViewKey(view, block.key(found), &key) ||
            !SetEntryKey(key, {}, &entry)) {
          return UndecodableEntry(tier, view, bucket);
        }
        entry.totals = block.totals(found);
        if (!visit(entry)) return absl::OkStatus();
      }
    }
  }
  return absl::OkStatus();
}

absl::Status StoreReader::MergeShards(
    Tier tier, View view, uint64_t first, uint64_t end, uint64_t resolution,
    uint16_t shard_begin, uint16_t shard_end,
    absl::FunctionRef<bool(absl::string_view view_key, const Totals& totals)>
        emit,
    rocksdb::ReadOptions read) const {
  // One iterator per bucket over the view's blocks of these shards in it;
  // shard by shard, the blocks of every bucket are merged as sorted runs
  // (MergeBlocks), so equal keys of several buckets come together and are
  // summed.
  struct Bucket {
    std::string lower;
    std::string upper;
    rocksdb::Slice lower_bound;
    rocksdb::Slice upper_bound;
    std::unique_ptr<rocksdb::Iterator> it;
    // The iterator's current block and its shard.
    RollupBlock block;
    uint16_t shard = 0;
  };
  const size_t count =
      static_cast<size_t>((end - first + resolution - 1) / resolution);
  // Fixed size: the bounds' slices point into the strings, which must not
  // move.
  std::vector<Bucket> buckets(count);
  std::vector<Bucket*> live;
  live.reserve(count);
  const auto error = [&](const Bucket& bucket) {
    if (!bucket.it->status().ok()) {
      return FromRocksDb(bucket.it->status(),
                         absl::StrCat("scanning rollups ", TierName(tier), "/",
                                      ViewName(view)));
    }
    uint64_t start = 0;
    DecodeBucket(
        absl::string_view(bucket.it->key().data(), bucket.it->key().size()),
        &start);
    return UndecodableEntry(tier, view, start);
  };
  // Takes the iterator's current block: false when there is none (done,
  // or an error: the iterator is then still valid or its status not ok)
  // or it does not decode (the iterator is valid).
  const auto load = [&](Bucket* bucket) {
    if (!bucket->it->Valid()) return false;
    BlockKey key;
    if (!DecodeBlockKey(absl::string_view(bucket->it->key().data(),
                                          bucket->it->key().size()),
                        &key) ||
        key.view != view ||
        !bucket->block.Parse(absl::string_view(bucket->it->value().data(),
                                               bucket->it->value().size())) ||
        bucket->block.key_size() != ViewKeySize(view)) {
      return false;
    }
    bucket->shard = key.shard;
    return true;
  };

  for (size_t i = 0; i < count; ++i) {
    Bucket& bucket = buckets[i];
    const uint64_t start = first + i * resolution;
    AppendBlockKey({start, view, shard_begin}, &bucket.lower);
    AppendBlockKey({start, view, shard_end}, &bucket.upper);
    bucket.lower_bound = bucket.lower;
    bucket.upper_bound = bucket.upper;
    read.iterate_lower_bound = &bucket.lower_bound;
    read.iterate_upper_bound = &bucket.upper_bound;
    bucket.it.reset(db_.db()->NewIterator(read, db_.cf(TierFamily(tier))));
    bucket.it->SeekToFirst();
    if (load(&bucket)) {
      live.push_back(&bucket);
    } else if (bucket.it->Valid() || !bucket.it->status().ok()) {
      return error(bucket);
    }
  }
  std::vector<const RollupBlock*> blocks;
  blocks.reserve(count);
  std::vector<Bucket*> merged;
  merged.reserve(count);
  bool more = true;
  while (more && !live.empty()) {
    uint16_t shard = UINT16_MAX;
    for (const Bucket* bucket : live) shard = std::min(shard, bucket->shard);
    blocks.clear();
    merged.clear();
    for (Bucket* bucket : live) {
      if (bucket->shard != shard) continue;
      blocks.push_back(&bucket->block);
      merged.push_back(bucket);
    }
    MergeBlocks(blocks, [&](absl::string_view key, const Totals& totals) {
      more = emit(key, totals);
      return more;
    });
    for (Bucket* bucket : merged) {
      bucket->it->Next();
      if (load(bucket)) continue;
      if (bucket->it->Valid() || !bucket->it->status().ok()) {
        return error(*bucket);
      }
      live.erase(std::find(live.begin(), live.end(), bucket));
    }
  }
  return absl::OkStatus();
}

absl::Status StoreReader::SumRun(Tier tier, View view, uint64_t first,
                                 uint64_t end, uint64_t resolution,
                                 RollupVisitor visit, bool* more) const {
  // The names are read after MergeShards made its iterators (as in
  // ScanRollup), so every node of an entry is named.
  std::shared_ptr<const NodeNames> names;
  RollupKey key;
  key.bucket_start_sec = first;
  RollupEntry entry;
  entry.bucket = absl::FromUnixSeconds(static_cast<int64_t>(first));
  absl::Status visited = absl::OkStatus();
  const auto visit_summed = [&](absl::string_view view_key,
                                const Totals& totals) {
    if (names == nullptr) names = nodes_.names();
    if (!DecodeViewKey(view, view_key, &key) ||
        !SetEntryKey(key, *names, &entry)) {
      visited = UndecodableEntry(tier, view, first);
      return false;
    }
    entry.totals = totals;
    *more = visit(entry);
    return *more;
  };

  const uint16_t shards = ShardCount(view);
  const uint64_t count = (end - first + resolution - 1) / resolution;
  if (shards < 2 || count < kMinBucketsForThreads) {
    WEIR_RETURN_IF_ERROR(MergeShards(tier, view, first, end, resolution, 0,
                                     shards, visit_summed));
    return visited;
  }

  // Shards are disjoint sets of keys: the later half is merged on a second
  // thread into a list (a top-N is bound by this merge, and the machine has
  // more than one core) while this one visits the earlier half, then the
  // list is visited.
  const uint16_t middle = shards / 2;
  std::unique_ptr<SummedList> later = TakeSummedList();
  absl::Status later_status;
  std::thread worker([&] {
    later_status = MergeShards(
        tier, view, first, end, resolution, middle, shards,
        [&](absl::string_view k, const Totals& t) { return later->Add(k, t); });
  });
  absl::Status earlier_status =
      MergeShards(tier, view, first, end, resolution, 0, middle, visit_summed);
  worker.join();
  absl::Status status = earlier_status.ok() ? later_status : earlier_status;
  if (status.ok() && visited.ok()) {
    for (size_t i = 0; *more && i < later->entries.size(); ++i) {
      if (!visit_summed(later->key(later->entries[i]),
                        later->entries[i].totals)) {
        break;
      }
    }
  }
  GiveBackSummedList(std::move(later));
  if (!status.ok()) return status;
  return visited;
}

std::unique_ptr<SummedList> StoreReader::TakeSummedList() const {
  absl::MutexLock lock(&summed_mu_);
  if (summed_list_ == nullptr) return std::make_unique<SummedList>();
  return std::move(summed_list_);
}

void StoreReader::GiveBackSummedList(std::unique_ptr<SummedList> list) const {
  list->Clear();
  absl::MutexLock lock(&summed_mu_);
  if (summed_list_ == nullptr) summed_list_ = std::move(list);
}

absl::Status StoreReader::ScanNodeCounters(Tier tier, const TimeRange& range,
                                           CountersVisitor visit) const {
  NodeCountersEntry entry;
  CounterVector counters;
  RollupKey key;
  return ScanView(
      tier, View::kNodeCounters, range,
      [&](uint64_t bucket, absl::string_view k, absl::string_view value,
          const NodeNames& names, bool* more) -> absl::Status {
        if (!DecodeRollupKey(k, &key) ||
            !DecodeCountersValue(value, &counters, &entry.damaged) ||
            key.node_id >= names.size()) {
          return absl::DataLossError(
              absl::StrCat("undecodable node counters in ", TierName(tier),
                           " at bucket ", bucket));
        }
        entry.bucket = absl::FromUnixSeconds(static_cast<int64_t>(bucket));
        entry.node = names[key.node_id];
        entry.counters = CountersFromVector(counters);
        *more = visit(entry);
        return absl::OkStatus();
      });
}

}  // namespace weir::store
