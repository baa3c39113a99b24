#include "queryd/store/store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "queryd/store/batch_validator.h"
#include "queryd/store/derived_views.h"
#include "queryd/store/encoding.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/node_admission.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_block.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/rollup_merge_operator.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/snapshot.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace weir::store {
namespace {

constexpr Family kFamilies[] = {Family::kRaw,  Family::kMinute,
                                Family::kHour, Family::kNodes,
                                Family::kMeta, Family::kPending};
constexpr uint64_t kNanosPerSecond = 1000000000;
// SumRollup merges a run's shards on two threads when the run has at least
// this many buckets; below, a thread costs more than it saves.
constexpr uint64_t kMinBucketsForThreads = 6;

// Compression of the families that hold flows (raw and rollups), by how
// settled their data is. L0 holds fresh memtables for seconds to minutes
// before a compaction reads them again: it stays uncompressed. Levels in
// between get LZ4; the bottom, where data settles, zstd at level 1: at
// RocksDB's default level (3) it stored the same bytes (`ingest_bench
// --mode=direct` then a full compaction: 60.4 against 59.9 bytes per flow)
// for more CPU. Both together took ~15 % off the CPU per stored flow (30 s
// direct runs, 2 each: 4.66 / 4.18 against 3.65 / 3.66 us).
void CompressBySettledness(rocksdb::ColumnFamilyOptions* options) {
  options->compression_per_level.assign(options->num_levels,
                                        rocksdb::kLZ4Compression);
  options->compression_per_level[0] = rocksdb::kNoCompression;
  options->bottommost_compression = rocksdb::kZSTD;
  options->bottommost_compression_opts.level = 1;
  options->bottommost_compression_opts.enabled = true;
}

// Options of every column family, in one place.
rocksdb::ColumnFamilyOptions FamilyOptions(
    Family family, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.format_version = 5;

  switch (family) {
    case Family::kRaw:
      // Append-mostly by time, read by range scans: big blocks, compressed
      // by how settled they are.
      options.write_buffer_size = 64 << 20;
      // A batch's keys arrive sorted and close together: the memtable starts
      // each insert where the last one with the same 4 key bytes (~4.3 s of
      // last_seen) ended instead of at the top of its skip list.
      options.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(4));
      table.block_size = 16 << 10;
      CompressBySettledness(&options);
      options.level_compaction_dynamic_level_bytes = true;
      break;
    case Family::kMinute:
    case Family::kHour:
      // Rollups: many merges per key; RocksDB folds operands in flushes and
      // compactions (and on reads, through the same operator).
      options.merge_operator = std::make_shared<RollupMergeOperator>();
      // Big enough that a flush folds many buffer writes of one bucket's
      // blocks into one, and fewer L0 files mean fewer compactions
      // rewriting the open buckets' blocks. `ingest_bench --mode=direct
      // --seconds=20`, against 32 MiB: 8 MiB stored ~13 % fewer flows/s;
      // 64 MiB ~17 % more at ~18 % less CPU per flow, for 34 MiB more peak
      // RSS (412 against 378 MiB); 128 MiB ~27 % more for 95 MiB. The
      // price besides memory: a crash leaves up to a memtable's worth of
      // batches whose rollups Open redoes from raw (RecoverRollups).
      options.write_buffer_size = 64 << 20;
      // Flushes of the rollup buffer write each bucket's keys in order: as
      // for raw, inserts start from the last one in the same bucket.
      options.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(kBucketPrefixSize));
      table.block_size = 16 << 10;
      CompressBySettledness(&options);
      options.level_compaction_dynamic_level_bytes = true;
      break;
    case Family::kNodes:
    case Family::kMeta:
    case Family::kPending:
      // A few small records, read at open (pending: written with each
      // batch, deleted at the next rollup flush).
      options.write_buffer_size = 4 << 20;
      options.compression = rocksdb::kNoCompression;
      break;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

rocksdb::DBOptions DatabaseOptions() {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 4;
  // Rollup buffer writes skip the WAL (RocksStore::WriteBuffers), so every
  // memtable flush must take all families at one point of the write
  // sequence: a rollup write and the deletion of its pending records reach
  // disk together or not at all.
  options.atomic_flush = true;
  options.bytes_per_sync = 1 << 20;
  options.max_log_file_size = 16 << 20;
  options.keep_log_file_num = 4;
  return options;
}

// Descriptors of every family to open: ours first, in Family order, then any
// other found on disk (RocksDB opens all or nothing) with default options.
std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(
    const std::vector<std::string>& on_disk,
    const std::shared_ptr<rocksdb::Cache>& cache) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (Family family : kFamilies) {
    descriptors.emplace_back(std::string{FamilyName(family)},
                             FamilyOptions(family, cache));
  }
  std::vector<std::string> names = on_disk;
  names.push_back(rocksdb::kDefaultColumnFamilyName);
  for (const std::string& name : names) {
    const bool known =
        std::any_of(descriptors.begin(), descriptors.end(),
                    [&](const auto& d) { return d.name == name; });
    if (!known) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  return descriptors;
}

absl::Status ValidateOptions(const StoreOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("data_dir: must not be empty");
  }
  for (Tier tier : kTiers) {
    if (options.retention.For(tier) <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "retention of tier ", TierName(tier), ": must be positive, got ",
          absl::FormatDuration(options.retention.For(tier))));
    }
  }
  return absl::OkStatus();
}

std::string DataDirIsNotAStore(const std::string& dir, absl::string_view why) {
  return absl::StrCat("data directory ", dir, " is not a weir-queryd store (",
                      why, ")");
}

// Reads the format version of an existing database without writing to it:
// a directory of a newer version must be refused before anything (WAL
// recovery, compaction) could change it. 0 for a store whose first open
// stopped before it wrote its version.
absl::StatusOr<uint32_t> ReadFormatVersion(const std::string& dir) {
  std::vector<std::string> names;
  if (absl::Status s = FromRocksDb(
          rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names),
          absl::StrCat("listing the column families of ", dir));
      !s.ok()) {
    return s;
  }
  const std::string meta{FamilyName(Family::kMeta)};
  const std::string nodes{FamilyName(Family::kNodes)};
  if (std::find(names.begin(), names.end(), meta) == names.end()) {
    return absl::FailedPreconditionError(
        DataDirIsNotAStore(dir, "no meta column family"));
  }
  // Only families present (a read-only open creates none), with their real
  // options so the WAL replays as it would in a read-write open.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (rocksdb::ColumnFamilyDescriptor& d : Descriptors(names, nullptr)) {
    if (std::find(names.begin(), names.end(), d.name) != names.end()) {
      descriptors.push_back(std::move(d));
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  if (absl::Status s = FromRocksDb(
          rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, descriptors,
                                       &handles, &raw_db),
          absl::StrCat("opening ", dir, " read-only"));
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::DB> db(raw_db);
  rocksdb::ColumnFamilyHandle* meta_cf = nullptr;
  rocksdb::ColumnFamilyHandle* nodes_cf = nullptr;
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    if (handle->GetName() == meta) meta_cf = handle;
    if (handle->GetName() == nodes) nodes_cf = handle;
  }

  absl::StatusOr<uint32_t> result = 0;
  std::string value;
  rocksdb::Status get = db->Get(rocksdb::ReadOptions(), meta_cf,
                                std::string{kFormatVersionKey}, &value);
  if (get.IsNotFound()) {
    // A store whose first open stopped before it wrote its version has no
    // nodes: every stored batch writes one. Anything else is not ours.
    bool empty = true;
    if (nodes_cf != nullptr) {
      std::unique_ptr<rocksdb::Iterator> it(
          db->NewIterator(rocksdb::ReadOptions(), nodes_cf));
      it->SeekToFirst();
      empty = !it->Valid() && it->status().ok();
    }
    if (!empty) {
      result = absl::FailedPreconditionError(
          DataDirIsNotAStore(dir, "no format version record"));
    }
  } else if (!get.ok()) {
    result =
        FromRocksDb(get, absl::StrCat("reading the format version of ", dir));
  } else {
    Reader reader(value);
    uint32_t version = 0;
    if (value.size() != 4 || !reader.GetU32(&version) || version == 0) {
      result = absl::DataLossError(absl::StrCat(
          "data directory ", dir, " has a corrupt format version record"));
    } else if (version > kFormatVersion) {
      result = absl::FailedPreconditionError(absl::StrCat(
          "data directory ", dir, " was written by format version ", version,
          "; this weir-queryd reads up to ", kFormatVersion));
    } else {
      result = version;
    }
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  return result;
}

// The entries of `map`, in key order: a memtable insert right after its
// predecessor is much cheaper than one at a random place.
template <typename Value>
std::vector<const std::pair<const std::string, Value>*> SortedEntries(
    const absl::flat_hash_map<std::string, Value>& map) {
  std::vector<const std::pair<const std::string, Value>*> sorted;
  sorted.reserve(map.size());
  for (const auto& entry : map) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return sorted;
}

NodeInfo ToNodeInfo(const std::string& name, const NodeState& state) {
  NodeInfo info;
  info.name = name;
  info.version = state.version;
  info.first_seen =
      absl::FromUnixNanos(static_cast<int64_t>(state.first_seen_unix_nano));
  info.last_seen =
      absl::FromUnixNanos(static_cast<int64_t>(state.last_seen_unix_nano));
  info.epoch = state.epoch;
  info.last_seq = state.seq;
  info.gaps = state.gaps;
  info.stale_batches = state.stale_batches;
  info.batches = state.batches;
  info.flows = state.flows;
  info.counters = CountersFromVector(state.counters);
  return info;
}

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

// INVALID_ARGUMENT unless tier and view name a flow view of a rollup tier.
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

// Entries of a view summed by MergeShards, their view keys one after the
// other in one string.
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

class RocksStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const StoreOptions& options);

  ~RocksStore() override;

  std::vector<absl::StatusOr<IngestResult>> WriteBatches(
      absl::Span<const weir::v1::FlowBatch* const> batches,
      absl::Time received_at) override;
  absl::Status ScanRaw(const RawScan& scan, RawVisitor visit) const override;
  absl::Status ScanRollup(Tier tier, View view, const TimeRange& range,
                          RollupVisitor visit) const override;
  absl::Status SumRollup(Tier tier, View view, const TimeRange& range,
                         RollupVisitor visit) const override;
  absl::Status LookupRollup(Tier tier, View view, const TimeRange& range,
                            absl::Span<const RollupEntry> keys,
                            RollupVisitor visit) const override;
  absl::Status ScanNodeCounters(Tier tier, const TimeRange& range,
                                CountersVisitor visit) const override;
  std::vector<NodeInfo> GetNodes() const override;
  uint64_t ApproximateSize() const override;
  Memory MemoryUsage() const override;
  absl::Status EnforceRetention(absl::Time now) override;
  absl::Status FlushRollups() const override;
  absl::Status Flush() override;
  absl::Status Compact() override;
  const StoreOptions& options() const override { return options_; }
  absl::StatusOr<absl::Time> HourTierEnd(const TimeRange& range,
                                         absl::Time now) const override;

 private:
  // One collector. Entries are never removed, so pointers to them stay
  // valid for the store's life.
  struct NodeEntry {
    NodeEntry(std::string name, uint32_t id) : name(std::move(name)), id(id) {}
    const std::string name;
    const uint32_t id;
    // Serializes WriteBatch of this node: the duplicate check and the write
    // of the new high-water are one step.
    absl::Mutex mu;
    // What is on disk for this node (after the last successful write).
    NodeState state ABSL_GUARDED_BY(mu);
    // False until the node's first batch is on disk.
    bool persisted ABSL_GUARDED_BY(mu) = false;
    // The node's share of the rollup buffer: one per node, so writers of
    // different nodes never wait for each other to add to it.
    RollupBuffer buffer ABSL_GUARDED_BY(mu);
  };
  using NodeNames = std::vector<std::string>;  // by node id; [0] unused

  RocksStore(StoreOptions options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles);

  rocksdb::ColumnFamilyHandle* cf(Family family) const {
    return handles_[static_cast<int>(family)];
  }
  absl::Status LoadNodes();
  NodeEntry* FindOrAddNode(const std::string& name);
  std::shared_ptr<const NodeNames> node_names() const;
  // The first bucket (Unix seconds) of `tier` kept at `now`.
  uint64_t RetentionCutoffSec(Tier tier, absl::Time now) const;
  // WriteBatches for a run of batches of one node, up to the durable write
  // and the rollup buffer's update: appends their results to `results`.
  void StoreRun(absl::Span<const weir::v1::FlowBatch* const> run,
                absl::Time received_at,
                std::vector<absl::StatusOr<IngestResult>>* results);
  // Adds the batch's raw flows, its pending record and the rollups that
  // are not buffered to `out`; returns the flows stored. `cutoff_sec` gets
  // the cutoffs it went by.
  uint64_t AddBatch(const weir::v1::FlowBatch& batch,
                    const std::vector<FlowRecord>& flows, uint32_t node_id,
                    uint64_t batch_number, absl::Time received_at,
                    rocksdb::WriteBatch* out, Cutoffs* cutoff_sec) const
      ABSL_SHARED_LOCKS_REQUIRED(retention_mu_);
  // Cutoffs for a write received at `received_at`: each tier's retention,
  // and nothing retention has deleted; m1's no later than the hour tier's
  // end, as m1 keeps every hour h1 does not hold yet (until retention
  // closes it).
  Cutoffs WriteCutoffs(absl::Time received_at) const
      ABSL_SHARED_LOCKS_REQUIRED(retention_mu_);
  // After the batch is on disk: its rollups that AddBatch left out, into
  // the node's buffer.
  void BufferBatch(const weir::v1::FlowBatch& batch,
                   const std::vector<FlowRecord>& flows, uint32_t node_id,
                   uint64_t batch_number, const Cutoffs& cutoff_sec,
                   RollupBuffer* buffer) const;
  // Merges of the sums of `sums` into m1 and h1 (blocks of every view of
  // both tiers, and node counters), leaving out buckets before the
  // cutoffs.
  void AppendRollups(absl::Span<const RollupBuffer* const> sums,
                     const Cutoffs& cutoff_sec, DerivedViews* views,
                     rocksdb::WriteBatch* out) const;
  // Where the stored flows say hours have closed: the start of the hour
  // that was open kHourCloseDelay before the newest flow stored (or now,
  // if earlier). 0 before any flow.
  uint64_t ClosedByFlowsSec() const;
  // Closes every hour before `end_sec` (a whole hour) that m1 holds flows
  // of and h1 does not hold yet (from hour_end_sec_ on), one at a time:
  // under the write locks, writes the rollup buffer out, takes a snapshot
  // and moves merge_end_sec_ past the hour, so every later write merges its
  // flows into h1 as well; then, with writers going on, sums the hour's
  // minutes of the snapshot into h1 (merged: it holds only those later
  // flows) and moves hour_end_sec_. Past the last hour with flows in m1 the
  // end moves on, over hours without any, to `skip_to_sec` at most. The
  // summing skips the WAL, as rollup writes do: a crash loses it only with
  // every rollup write after it, and the next open clears what a
  // half-written hour left in h1 (ClearOpenHours) and closes it again. Sets
  // *summed when an hour was summed.
  absl::Status CloseHours(uint64_t end_sec, uint64_t skip_to_sec,
                          bool* summed = nullptr) const;
  // At open: deletes the flow views of h1 from the hour tier's end on,
  // which a crash while an hour was being summed can leave (m1 holds all
  // of them), so that closing those hours counts each flow once.
  absl::Status ClearOpenHours();
  // Sums the blocks of one flow view in the minutes (in `snapshot`) of the
  // hour starting at `hour_sec` into h1 blocks, merged into `out`.
  absl::Status SumHourView(uint64_t hour_sec, View view,
                           const rocksdb::Snapshot* snapshot,
                           rocksdb::WriteBatch* out) const;
  // Before a read of `tier` over `range`: writes the rollup buffer out,
  // and for h1 closes the hours of the range that m1 holds flows of.
  absl::Status ReadyToRead(Tier tier, const TimeRange& range) const;
  bool BufferIsDue() const;
  // Writes every family's memtables to SST files, atomically.
  absl::Status FlushMemtables() const;
  // The flusher thread: writes the rollup buffer out when it is due.
  void RunFlusher();
  absl::Status FlushRollupsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(flush_mu_)
          ABSL_SHARED_LOCKS_REQUIRED(retention_mu_);
  // Writes buffers out: their merges and the deletion of their pending
  // records in one write, to the WAL too if `logged`.
  absl::Status WriteBuffers(const std::vector<RollupBuffer>& buffers,
                            const Cutoffs& cutoff_sec, DerivedViews* views,
                            bool logged) const;
  // At open of a format version 1 or 2 directory: its flow view entries
  // (one key each) into blocks (format version 3), in chunks that each
  // write blocks and delete the entries they hold in one write, so a stop
  // half-way loses and doubles nothing and the next open goes on.
  absl::Status ConvertRollups();
  // At open of a format version 1 to 3 directory: its raw flows (one key
  // each) into blocks (format version 4), a raw bucket at a time, each
  // write holding whole buckets' blocks and the deletion of their flows.
  absl::Status ConvertRaw();
  // At open: the rollups of batches stored before a crash, back into the
  // buffer from raw and their pending records, then flushed.
  absl::Status RecoverRollups();
  // The buckets of `range` from the first present to the last, as Unix
  // seconds [*first, *end); empty when none is.
  absl::Status PresentBuckets(Tier tier, const TimeRange& range,
                              uint64_t* first, uint64_t* end) const;
  // SumRollup over the buckets in [first, end) (Unix seconds, `first` a
  // bucket start, at most kMaxSummedBuckets of them); sets *more to false
  // when `visit` does.
  absl::Status SumRun(Tier tier, View view, uint64_t first, uint64_t end,
                      uint64_t resolution, RollupVisitor visit,
                      bool* more) const;
  // Merges the blocks of shards [shard_begin, shard_end) of one view in the
  // buckets [first, end) (`first` a bucket start): emit(view key, totals)
  // once per view key, with the totals of every bucket, shard by shard and
  // in key order within a shard, until emit returns false. `read` gives
  // the reads' snapshot and caching (its bounds are set here).
  absl::Status MergeShards(
      Tier tier, View view, uint64_t first, uint64_t end, uint64_t resolution,
      uint16_t shard_begin, uint16_t shard_end,
      absl::FunctionRef<bool(absl::string_view view_key, const Totals& totals)>
          emit,
      rocksdb::ReadOptions read = rocksdb::ReadOptions()) const;
  // SumRun's list for the shards it merges on a second thread, kept from
  // one run to the next (one, for the query that finds it free; others
  // make their own): reusing its memory spares a day's top-N tens of MB of
  // fresh pages and vector growth per query.
  std::unique_ptr<SummedList> TakeSummedList() const;
  void GiveBackSummedList(std::unique_ptr<SummedList> list) const;
  // Visits the keys of one view of a rollup tier (blocks, or node counter
  // entries), bucket by bucket, with their bucket and value.
  absl::Status ScanView(
      Tier tier, View view, const TimeRange& range,
      absl::FunctionRef<absl::Status(uint64_t bucket, absl::string_view key,
                                     absl::string_view value,
                                     const NodeNames& names, bool* more)>
          visit) const;

  const StoreOptions options_;
  const std::unique_ptr<rocksdb::DB> db_;
  // Indexed by Family; then any other family found on disk.
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;

  mutable absl::Mutex nodes_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<NodeEntry>> nodes_
      ABSL_GUARDED_BY(nodes_mu_);
  // Replaced (copy on write) when a node is added, so scans read names
  // without holding the lock.
  std::shared_ptr<const NodeNames> node_names_ ABSL_GUARDED_BY(nodes_mu_);

  // Writers hold it shared, EnforceRetention exclusively: no write can land
  // below a cutoff once its DeleteRange is written.
  mutable absl::Mutex retention_mu_;
  // Per tier, the first bucket (Unix seconds) not yet deleted; 0 until the
  // first EnforceRetention of this process.
  Cutoffs retained_from_sec_ ABSL_GUARDED_BY(retention_mu_) = {0, 0, 0};
  // Taken by CloseHours, before flush_mu_: one closes hours at a time.
  mutable absl::Mutex close_mu_;
  // The hour tier's end (kHourTierEndKey): h1's flow views hold every hour
  // before it. Only grows. Read by queries without a lock: any value they
  // see is one h1 holds.
  mutable std::atomic<uint64_t> hour_end_sec_{0};
  // Writes merge the flows of hours before it into h1 too; those of later
  // hours go to m1 only. At or past hour_end_sec_ (past it while an hour
  // is being summed). Only grows, and only with flush_mu_ and retention_mu_
  // held exclusively, so a writer holding either sees it fixed.
  mutable std::atomic<uint64_t> merge_end_sec_{0};
  // The newest last_seen of a stored flow (ns; 0 for none since open).
  std::atomic<uint64_t> newest_flow_ns_{0};

  // Held across a whole rollup flush (taking the buffers and writing them),
  // so a read that flushes first also waits for a flush already under way.
  // Taken before retention_mu_, which is taken before a node's mutex.
  mutable absl::Mutex flush_mu_;
  // The flushes' working memory, kept from one to the next.
  mutable DerivedViews derived_views_ ABSL_GUARDED_BY(flush_mu_);
  // The earliest raw flow of a batch whose rollups went out without the WAL
  // and may not be on disk yet (UINT64_MAX for none): a recovery would read
  // it back, so retention writes the memtables out before deleting it.
  mutable uint64_t unlogged_raw_from_ns_ ABSL_GUARDED_BY(flush_mu_) =
      UINT64_MAX;
  // Buffers a failed flush could not write, for the next one.
  mutable absl::Mutex leftover_mu_;
  mutable std::vector<RollupBuffer> leftover_ ABSL_GUARDED_BY(leftover_mu_);
  // Entries in all buffers since the last flush (a trigger, not exact), and
  // when the oldest arrived (ns since the Unix epoch; INT64_MAX for none).
  mutable std::atomic<size_t> buffered_entries_{0};
  mutable std::atomic<int64_t> buffered_since_ns_{INT64_MAX};
  // The flusher thread and what wakes it.
  absl::Mutex flusher_mu_;
  bool flush_wanted_ ABSL_GUARDED_BY(flusher_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(flusher_mu_) = false;
  std::thread flusher_;

  mutable absl::Mutex summed_mu_;
  mutable std::unique_ptr<SummedList> summed_list_ ABSL_GUARDED_BY(summed_mu_);
};

RocksStore::RocksStore(StoreOptions options, std::unique_ptr<rocksdb::DB> db,
                       std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(std::move(options)),
      db_(std::move(db)),
      handles_(std::move(handles)),
      node_names_(std::make_shared<NodeNames>(1)) {
  write_options_.sync = options_.sync_writes;
}

RocksStore::~RocksStore() {
  if (flusher_.joinable()) {
    {
      absl::MutexLock lock(&flusher_mu_);
      stopping_ = true;
    }
    flusher_.join();
  }
  // Written out now, and the memtables with it (rollup writes skip the
  // WAL), so the next open has nothing to recover; if this fails the
  // pending records still let it.
  Flush().IgnoreError();
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close().PermitUncheckedError();
}

absl::StatusOr<std::unique_ptr<Store>> RocksStore::Open(
    const StoreOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  const std::string& dir = options.data_dir;
  const bool exists =
      rocksdb::Env::Default()->FileExists(dir + "/CURRENT").ok();
  if (!exists) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(
          absl::StrCat("data directory ", dir,
                       " holds no store and create_if_missing is false"));
    }
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("creating data directory ", dir, ": ", error.message()));
    }
  }
  uint32_t stored_version = kFormatVersion;
  // A store that has written its version record: its contents follow it.
  bool versioned = false;
  if (exists) {
    absl::StatusOr<uint32_t> version = ReadFormatVersion(dir);
    if (!version.ok()) return version.status();
    if (*version != 0) stored_version = *version;
    versioned = *version != 0;
  }

  std::vector<std::string> names;
  if (exists) {
    if (absl::Status s = FromRocksDb(
            rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names),
            absl::StrCat("listing the column families of ", dir));
        !s.ok()) {
      return s;
    }
  }
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors =
      Descriptors(names, rocksdb::NewLRUCache(options.block_cache_bytes));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  if (absl::Status s =
          FromRocksDb(rocksdb::DB::Open(DatabaseOptions(), dir, descriptors,
                                        &handles, &raw_db),
                      absl::StrCat("opening data directory ", dir));
      !s.ok()) {
    return s;
  }
  std::unique_ptr<RocksStore> store(new RocksStore(
      options, std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles)));

  if (stored_version < 4) {
    const auto say = [&](const std::string& line) {
      if (options.progress) options.progress(line);
    };
    const absl::Time started = absl::Now();
    say(absl::StrCat("converting data directory ", dir, " from format version ",
                     stored_version, " to ", kFormatVersion,
                     " (rollups and raw flows as blocks); this reads the "
                     "whole store once"));
    if (stored_version < 3) {
      if (absl::Status s = store->ConvertRollups(); !s.ok()) return s;
    }
    if (absl::Status s = store->ConvertRaw(); !s.ok()) return s;
    say(absl::StrCat("converted data directory ", dir, " to format version ",
                     kFormatVersion, " in ",
                     absl::FormatDuration(absl::Trunc(absl::Now() - started,
                                                      absl::Milliseconds(1)))));
  }
  // The hour tier's end. A directory of an older version merged every
  // hour into h1 as it came: summing starts at the next hour. A new one
  // sums every hour from m1.
  uint64_t hour_end_sec = 0;
  std::string stored_end;
  const rocksdb::Status get =
      store->db_->Get(rocksdb::ReadOptions(), store->cf(Family::kMeta),
                      std::string{kHourTierEndKey}, &stored_end);
  if (get.ok()) {
    Reader reader(stored_end);
    if (stored_end.size() != 8 || !reader.GetU64(&hour_end_sec) ||
        hour_end_sec % 3600 != 0) {
      return absl::DataLossError(absl::StrCat(
          "data directory ", dir, " has a corrupt hour tier end record"));
    }
  } else if (!get.IsNotFound()) {
    return FromRocksDb(get, absl::StrCat("reading the hour tier end of ", dir));
  } else if (versioned && stored_version >= 5) {
    return absl::DataLossError(
        absl::StrCat("data directory ", dir, " has no hour tier end record"));
  } else if (versioned) {
    hour_end_sec =
        BucketStartSec(ToUnixNanosClamped(absl::Now()), Tier::kHour) + 3600;
  }
  store->hour_end_sec_ = hour_end_sec;
  store->merge_end_sec_ = hour_end_sec;
  std::string version;
  PutU32(&version, kFormatVersion);
  std::string end;
  PutU64(&end, hour_end_sec);
  rocksdb::WriteBatch records;
  records.Put(store->cf(Family::kMeta), std::string{kFormatVersionKey},
              version);
  records.Put(store->cf(Family::kMeta), std::string{kHourTierEndKey}, end);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (absl::Status s =
          FromRocksDb(store->db_->Write(sync, &records),
                      absl::StrCat("writing the format version to ", dir));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = store->ClearOpenHours(); !s.ok()) return s;
  if (absl::Status s = store->LoadNodes(); !s.ok()) return s;
  if (absl::Status s = store->RecoverRollups(); !s.ok()) return s;
  if (options.rollup_buffer_keys > 0) {
    RocksStore* started = store.get();
    store->flusher_ = std::thread([started] { started->RunFlusher(); });
  }
  return std::unique_ptr<Store>(std::move(store));
}

absl::Status RocksStore::LoadNodes() {
  absl::MutexLock lock(&nodes_mu_);
  auto names = std::make_shared<NodeNames>(1);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(Family::kNodes)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string name = it->key().ToString();
    NodeState state;
    if (!DecodeNodeState(
            absl::string_view(it->value().data(), it->value().size()),
            &state) ||
        state.id == 0) {
      return absl::DataLossError(
          absl::StrCat("the stored state of node \"", name, "\" is corrupt"));
    }
    if (state.id < names->size() && !(*names)[state.id].empty()) {
      return absl::DataLossError(
          absl::StrCat("nodes \"", (*names)[state.id], "\" and \"", name,
                       "\" have the same id ", state.id));
    }
    if (state.id >= names->size()) names->resize(state.id + 1);
    (*names)[state.id] = name;
    auto entry = std::make_unique<NodeEntry>(name, state.id);
    {
      absl::MutexLock entry_lock(&entry->mu);
      entry->state = std::move(state);
      entry->persisted = true;
    }
    nodes_.emplace(name, std::move(entry));
  }
  if (absl::Status s = FromRocksDb(it->status(), "loading node states");
      !s.ok()) {
    return s;
  }
  node_names_ = std::move(names);
  return absl::OkStatus();
}

RocksStore::NodeEntry* RocksStore::FindOrAddNode(const std::string& name) {
  absl::MutexLock lock(&nodes_mu_);
  auto it = nodes_.find(name);
  if (it != nodes_.end()) return it->second.get();
  // Ids are dense from 1. An id is taken here, before the node's first
  // write; if that write fails the entry (unpersisted) keeps it for the next
  // attempt.
  const uint32_t id = static_cast<uint32_t>(node_names_->size());
  auto names = std::make_shared<NodeNames>(*node_names_);
  names->push_back(name);
  node_names_ = std::move(names);
  auto entry = std::make_unique<NodeEntry>(name, id);
  NodeEntry* result = entry.get();
  nodes_.emplace(name, std::move(entry));
  return result;
}

std::shared_ptr<const RocksStore::NodeNames> RocksStore::node_names() const {
  absl::MutexLock lock(&nodes_mu_);
  return node_names_;
}

uint64_t RocksStore::RetentionCutoffSec(Tier tier, absl::Time now) const {
  const uint64_t cutoff_ns =
      ToUnixNanosClamped(now - options_.retention.For(tier));
  return BucketStartSec(cutoff_ns, tier);
}

std::vector<absl::StatusOr<IngestResult>> RocksStore::WriteBatches(
    absl::Span<const weir::v1::FlowBatch* const> batches,
    absl::Time received_at) {
  std::vector<absl::StatusOr<IngestResult>> results;
  results.reserve(batches.size());
  for (size_t start = 0; start < batches.size();) {
    size_t end = start + 1;
    while (end < batches.size() &&
           batches[end]->node() == batches[start]->node()) {
      ++end;
    }
    StoreRun(batches.subspan(start, end - start), received_at, &results);
    if (options_.rollup_buffer_keys > 0) {
      if (buffered_entries_.load() >= 2 * options_.rollup_buffer_keys) {
        // The flusher is behind: this writer waits for a flush of its own
        // (after every lock of the write is released: the flush takes
        // flush_mu_ first), so memory stays bounded.
        if (absl::Status s = FlushRollups(); !s.ok()) {
          // The run is stored; the write of its rollups failed, so its
          // last result says so (the sums stay in the buffer).
          results.back() = s;
          break;
        }
      } else if (BufferIsDue() || ClosedByFlowsSec() > hour_end_sec_.load()) {
        absl::MutexLock lock(&flusher_mu_);
        flush_wanted_ = true;
      }
    } else if (const uint64_t closed_sec = ClosedByFlowsSec();
               closed_sec > hour_end_sec_.load()) {
      // No flusher: this writer closes the hours its flows have passed.
      if (absl::Status s = CloseHours(closed_sec, closed_sec); !s.ok()) {
        results.back() = s;
        break;
      }
    }
    if (results.size() < end || !results.back().ok()) break;
    start = end;
  }
  return results;
}

void RocksStore::RunFlusher() {
  absl::MutexLock lock(&flusher_mu_);
  while (!stopping_) {
    // Wakes when a writer finds the buffer due, and at least every flush
    // interval, so a buffer that stopped growing still goes out in time.
    flusher_mu_.AwaitWithTimeout(
        absl::Condition(
            +[](RocksStore* store)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(store->flusher_mu_) {
                   return store->flush_wanted_ || store->stopping_;
                 },
            this),
        options_.rollup_flush_interval);
    if (stopping_) break;
    // Hours the stored flows have passed close here, off the writers' way.
    const uint64_t closed_sec = ClosedByFlowsSec();
    const bool close = closed_sec > hour_end_sec_.load();
    if (!flush_wanted_ && !close && !BufferIsDue()) continue;
    flush_wanted_ = false;
    flusher_mu_.Unlock();
    // A failure keeps the sums (FlushRollupsLocked) for the next flush, and
    // the next rollup read reports it; hours left open close later.
    if (close) {
      CloseHours(closed_sec, closed_sec).IgnoreError();
    } else {
      FlushRollups().IgnoreError();
    }
    flusher_mu_.Lock();
  }
}

void RocksStore::StoreRun(absl::Span<const weir::v1::FlowBatch* const> run,
                          absl::Time received_at,
                          std::vector<absl::StatusOr<IngestResult>>* results) {
  // Only the batches before the first malformed one are stored.
  absl::Status malformed;
  size_t valid = 0;
  for (; valid < run.size(); ++valid) {
    malformed = ValidateBatch(*run[valid]);
    if (!malformed.ok()) break;
  }
  const auto fail_at_malformed = [&] {
    if (!malformed.ok()) results->push_back(std::move(malformed));
  };
  if (valid == 0) {
    fail_at_malformed();
    return;
  }
  NodeEntry* node = FindOrAddNode(run[0]->node());
  // Shared before the node's mutex: a rollup flush takes them in that
  // order too.
  absl::ReaderMutexLock retention_lock(&retention_mu_);
  absl::MutexLock lock(&node->mu);

  // What each batch's write needs after it is on disk.
  struct Written {
    IngestResult result;
    uint64_t batch_number = 0;
    Cutoffs cutoff_sec;
  };
  std::vector<Written> written(valid);
  rocksdb::WriteBatch write;
  bool writes = false;
  NodeState next = node->state;
  bool persisted = node->persisted;
  for (size_t i = 0; i < valid; ++i) {
    const weir::v1::FlowBatch& batch = *run[i];
    IngestResult& result = written[i].result;
    result.epoch = batch.epoch();
    result.seq = batch.seq();
    const Admission admission =
        Admit({persisted, next.epoch, next.seq}, batch.epoch(), batch.seq());
    result.outcome = admission.outcome;
    result.skipped_seqs = admission.skipped_seqs;
    if (result.outcome == IngestResult::Outcome::kDuplicate) continue;
    if (!persisted) {
      next.id = node->id;
      next.first_seen_unix_nano = ToUnixNanosClamped(received_at);
    }
    if (result.outcome == IngestResult::Outcome::kStaleEpoch) {
      next.stale_batches += 1;
    }
    writes = true;
    persisted = true;
    if (result.outcome != IngestResult::Outcome::kStored) continue;
    // Converted once, for the raw records, both rollup passes and the
    // caller (IngestResult::records).
    result.records = FlowRecordsOf(batch);
    next.epoch = batch.epoch();
    next.seq = batch.seq();
    next.gaps += result.skipped_seqs;
    next.batches += 1;
    next.last_seen_unix_nano = ToUnixNanosClamped(received_at);
    next.version = batch.collector_version();
    AddCounters(CountersFromProto(batch.counters()), &next.counters);
    written[i].batch_number = next.batches;
    result.flows = AddBatch(batch, result.records, node->id, next.batches,
                            received_at, &write, &written[i].cutoff_sec);
    next.flows += result.flows;
  }
  if (writes) {
    std::string state;
    AppendNodeState(next, &state);
    write.Put(cf(Family::kNodes), node->name, state);
    const weir::v1::FlowBatch& first = *run[0];
    const weir::v1::FlowBatch& last = *run[valid - 1];
    const std::string batches =
        valid == 1 ? absl::StrCat("batch (epoch ", first.epoch(), ", seq ",
                                  first.seq(), ")")
                   : absl::StrCat(valid, " batches (epoch ", first.epoch(),
                                  ", seq ", first.seq(), " to epoch ",
                                  last.epoch(), ", seq ", last.seq(), ")");
    if (absl::Status s = FromRocksDb(
            db_->Write(write_options_, &write),
            absl::StrCat("storing ", batches, " of node \"", node->name, "\""));
        !s.ok()) {
      results->push_back(std::move(s));
      return;
    }
    node->state = std::move(next);
    node->persisted = true;
    uint64_t newest = 0;
    for (const Written& w : written) {
      for (const FlowRecord& flow : w.result.records) {
        newest = std::max(newest, flow.last_seen_unix_nano);
      }
    }
    uint64_t seen = newest_flow_ns_.load();
    while (newest > seen &&
           !newest_flow_ns_.compare_exchange_weak(seen, newest)) {
    }
  }
  for (size_t i = 0; i < valid; ++i) {
    IngestResult& result = written[i].result;
    if (result.outcome == IngestResult::Outcome::kStored &&
        options_.rollup_buffer_keys > 0) {
      const size_t before = node->buffer.size();
      BufferBatch(*run[i], result.records, node->id, written[i].batch_number,
                  written[i].cutoff_sec, &node->buffer);
      buffered_entries_ += node->buffer.size() - before;
      int64_t none = INT64_MAX;
      buffered_since_ns_.compare_exchange_strong(
          none, absl::ToUnixNanos(absl::Now()));
    }
    results->push_back(std::move(result));
  }
  fail_at_malformed();
}

uint64_t RocksStore::AddBatch(const weir::v1::FlowBatch& batch,
                              const std::vector<FlowRecord>& flows,
                              uint32_t node_id, uint64_t batch_number,
                              absl::Time received_at, rocksdb::WriteBatch* out,
                              Cutoffs* cutoff_sec) const {
  *cutoff_sec = WriteCutoffs(received_at);
  const uint64_t raw_cutoff_ns =
      (*cutoff_sec)[static_cast<int>(Tier::kRaw)] * kNanosPerSecond;
  // Buffered rollups are redone from raw after a crash, so only flows that
  // go to raw can be buffered (BufferBatch, once the batch is on disk); the
  // rest are merged with the batch, as is everything without a buffer.
  const bool buffering = options_.rollup_buffer_keys > 0;
  RollupBuffer direct;

  // Raw records are written in key order (see SortedEntries): by last_seen,
  // then index, as the keys of one batch sort.
  std::vector<std::pair<uint64_t, size_t>> raw;
  raw.reserve(flows.size());
  PendingBatch pending;
  pending.interval_start_unix_nano = batch.interval_start_unix_nano();
  pending.min_last_seen_unix_nano = UINT64_MAX;
  uint64_t stored = 0;
  for (size_t i = 0; i < flows.size(); ++i) {
    const FlowRecord& flow = flows[i];
    bool kept = false;
    if (flow.last_seen_unix_nano >= raw_cutoff_ns) {
      raw.emplace_back(flow.last_seen_unix_nano, i);
      kept = true;
      pending.raw_flows += 1;
      pending.min_last_seen_unix_nano =
          std::min(pending.min_last_seen_unix_nano, flow.last_seen_unix_nano);
      pending.max_last_seen_unix_nano =
          std::max(pending.max_last_seen_unix_nano, flow.last_seen_unix_nano);
      if (buffering && Bufferable(flow, *cutoff_sec)) {
        ++stored;
        continue;
      }
    }
    if (AddFlow(flow, node_id, *cutoff_sec, &direct)) kept = true;
    if (kept) ++stored;
  }
  // One block per raw bucket the batch's flows fall in.
  std::sort(raw.begin(), raw.end());
  std::string raw_key;
  RawBlockBuilder block;
  for (size_t r = 0; r < raw.size();) {
    const uint64_t bucket = RawBucketStart(raw[r].first);
    block.Reset();
    for (; r < raw.size() && RawBucketStart(raw[r].first) == bucket; ++r) {
      block.Add(raw[r].first, static_cast<uint32_t>(raw[r].second),
                flows[raw[r].second]);
    }
    raw_key.clear();
    AppendRawBlockKey({bucket, node_id, batch_number}, &raw_key);
    const absl::string_view value = block.value();
    out->Put(cf(Family::kRaw), raw_key,
             rocksdb::Slice(value.data(), value.size()));
  }

  // The batch's accounting, per node and bucket of its interval start.
  pending.counters = CountersFromProto(batch.counters());
  if (buffering) {
    if (pending.raw_flows == 0) pending.min_last_seen_unix_nano = 0;
    std::string key;
    std::string value;
    AppendPendingKey({node_id, batch_number}, &key);
    AppendPendingBatch(pending, &value);
    out->Put(cf(Family::kPending), key, value);
  } else {
    AddCounterRollups(pending.counters, batch.interval_start_unix_nano(),
                      node_id, *cutoff_sec, &direct.counters);
  }
  DerivedViews views;
  AppendRollups({&direct}, *cutoff_sec, &views, out);
  return stored;
}

Cutoffs RocksStore::WriteCutoffs(absl::Time received_at) const {
  // Nothing goes below a tier's retention cutoff: it would never be read,
  // and retention has already passed it.
  Cutoffs cutoff_sec;
  for (Tier tier : kTiers) {
    const int i = static_cast<int>(tier);
    cutoff_sec[i] =
        std::max(RetentionCutoffSec(tier, received_at), retained_from_sec_[i]);
  }
  // A flow of an hour h1 does not hold yet goes to m1 even when m1's
  // retention has passed it: h1 gets it from there when the hour closes
  // (EnforceRetention closes it before deleting any of its minutes).
  uint64_t& minute = cutoff_sec[static_cast<int>(Tier::kMinute)];
  minute = std::min(minute, merge_end_sec_.load());
  return cutoff_sec;
}

void RocksStore::BufferBatch(const weir::v1::FlowBatch& batch,
                             const std::vector<FlowRecord>& flows,
                             uint32_t node_id, uint64_t batch_number,
                             const Cutoffs& cutoff_sec,
                             RollupBuffer* buffer) const {
  // The same choice as AddBatch's: flows in raw that the buffer can take.
  const uint64_t raw_cutoff_ns =
      cutoff_sec[static_cast<int>(Tier::kRaw)] * kNanosPerSecond;
  for (const FlowRecord& flow : flows) {
    if (flow.last_seen_unix_nano < raw_cutoff_ns) continue;
    buffer->raw_from_ns =
        std::min(buffer->raw_from_ns, flow.last_seen_unix_nano);
    if (Bufferable(flow, cutoff_sec)) {
      AddFlow(flow, node_id, cutoff_sec, buffer);
    }
  }
  AddCounterRollups(CountersFromProto(batch.counters()),
                    batch.interval_start_unix_nano(), node_id, cutoff_sec,
                    &buffer->counters);
  buffer->pending.emplace_back();
  AppendPendingKey({node_id, batch_number}, &buffer->pending.back());
}

void RocksStore::AppendRollups(absl::Span<const RollupBuffer* const> sums,
                               const Cutoffs& cutoff_sec, DerivedViews* views,
                               rocksdb::WriteBatch* out) const {
  CounterSums counters;
  for (const RollupBuffer* buffer : sums) {
    views->Add(buffer->minute, Tier::kMinute);
    views->Add(buffer->hour_only, Tier::kHour);
    counters.AddAll(buffer->counters);
  }
  views->Append(cutoff_sec, merge_end_sec_.load(),
                [&](Tier tier, absl::string_view key, absl::string_view block) {
                  out->Merge(cf(TierFamily(tier)),
                             rocksdb::Slice(key.data(), key.size()),
                             rocksdb::Slice(block.data(), block.size()));
                });
  std::string value;
  for (Tier tier : kRollupTiers) {
    const std::string first_key =
        BucketPrefix(cutoff_sec[static_cast<int>(tier)]);
    for (const auto* entry :
         SortedEntries(counters.counters[RollupIndex(tier)])) {
      if (entry->first < first_key) continue;
      value.clear();
      AppendCountersValue(entry->second, /*damaged=*/false, &value);
      out->Merge(cf(TierFamily(tier)), entry->first, value);
    }
  }
}

bool RocksStore::BufferIsDue() const {
  if (buffered_entries_.load() >= options_.rollup_buffer_keys) return true;
  const int64_t since = buffered_since_ns_.load();
  return since != INT64_MAX && absl::Now() - absl::FromUnixNanos(since) >=
                                   options_.rollup_flush_interval;
}

absl::Status RocksStore::FlushRollups() const {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::ReaderMutexLock retention_lock(&retention_mu_);
  return FlushRollupsLocked();
}

uint64_t RocksStore::ClosedByFlowsSec() const {
  const uint64_t newest_ns =
      std::min(newest_flow_ns_.load(), ToUnixNanosClamped(absl::Now()));
  const uint64_t delay_ns =
      static_cast<uint64_t>(absl::ToInt64Nanoseconds(kHourCloseDelay));
  if (newest_ns < delay_ns) return 0;
  return BucketStartSec(newest_ns - delay_ns, Tier::kHour);
}

absl::Status RocksStore::CloseHours(uint64_t end_sec, uint64_t skip_to_sec,
                                    bool* summed) const {
  constexpr uint64_t kHourSec = 3600;
  end_sec -= end_sec % kHourSec;
  skip_to_sec = std::min(end_sec, skip_to_sec - skip_to_sec % kHourSec);
  absl::MutexLock close_lock(&close_mu_);
  while (hour_end_sec_.load() < end_sec) {
    const uint64_t hour_end = hour_end_sec_.load();
    uint64_t next = skip_to_sec;
    uint64_t hour = 0;
    bool sum = false;
    std::optional<rocksdb::ManagedSnapshot> snapshot;
    {
      absl::MutexLock flush_lock(&flush_mu_);
      // Exclusive: a writer merging rollups with its batch (no buffer)
      // picks their tiers by merge_end_sec_ under a shared lock.
      absl::MutexLock retention_lock(&retention_mu_);
      if (absl::Status s = FlushRollupsLocked(); !s.ok()) return s;
      // The next hour m1 holds anything of (flows, or node counters).
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(rocksdb::ReadOptions(), cf(Family::kMinute)));
      it->Seek(BucketPrefix(hour_end));
      if (it->Valid()) {
        if (!DecodeBucket(absl::string_view(it->key().data(), it->key().size()),
                          &hour)) {
          return UndecodableEntry(Tier::kMinute, View::kSrc, hour_end);
        }
        hour -= hour % kHourSec;
        if (hour < end_sec) {
          next = hour + kHourSec;
          sum = hour >= retained_from_sec_[static_cast<int>(Tier::kHour)];
        }
      } else if (absl::Status s = FromRocksDb(it->status(), "reading m1");
                 !s.ok()) {
        return s;
      }
      if (next <= hour_end) break;
      if (sum) snapshot.emplace(db_.get());
      merge_end_sec_ = next;
    }
    // One write per view bounds its size; the last one moves the end.
    rocksdb::WriteOptions unlogged;
    unlogged.disableWAL = true;
    rocksdb::WriteBatch write;
    if (sum) {
      for (size_t v = 0; v < std::size(kFlowViews); ++v) {
        if (absl::Status s =
                SumHourView(hour, kFlowViews[v], snapshot->snapshot(), &write);
            !s.ok()) {
          return s;
        }
        if (v + 1 == std::size(kFlowViews)) break;
        if (absl::Status s = FromRocksDb(db_->Write(unlogged, &write),
                                         "summing an hour into h1");
            !s.ok()) {
          return s;
        }
        write.Clear();
      }
      if (summed != nullptr) *summed = true;
    }
    std::string value;
    PutU64(&value, next);
    write.Put(cf(Family::kMeta), std::string{kHourTierEndKey}, value);
    if (absl::Status s =
            FromRocksDb(db_->Write(unlogged, &write), "closing an hour of h1");
        !s.ok()) {
      return s;
    }
    hour_end_sec_ = next;
  }
  return absl::OkStatus();
}

absl::Status RocksStore::ClearOpenHours() {
  // Point deletions, not DeleteRange: h1's memtable takes insert hints by
  // bucket prefix, and RocksDB shares them between a memtable's point and
  // range deletion lists, which the next write to that bucket would then
  // corrupt.
  rocksdb::WriteBatch write;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(Family::kHour)));
  for (it->Seek(BucketPrefix(hour_end_sec_.load())); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    BlockKey block;
    if (DecodeBlockKey(key, &block)) write.Delete(cf(Family::kHour), it->key());
  }
  if (absl::Status s = FromRocksDb(it->status(), "reading h1"); !s.ok()) {
    return s;
  }
  if (write.Count() == 0) return absl::OkStatus();
  return FromRocksDb(db_->Write(write_options_, &write),
                     "clearing h1's open hours");
}

absl::Status RocksStore::SumHourView(uint64_t hour_sec, View view,
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
    out->Merge(cf(Family::kHour), block_key,
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
    absl::Status s = MergeShards(
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

absl::Status RocksStore::ReadyToRead(Tier tier, const TimeRange& range) const {
  if (tier != Tier::kHour || range.start >= range.end) return FlushRollups();
  // Every hour starting before the range's end.
  constexpr uint64_t kHourSec = 3600;
  const uint64_t end_sec =
      (CeilUnixSeconds(range.end) + kHourSec - 1) / kHourSec * kHourSec;
  if (end_sec <= hour_end_sec_.load()) return FlushRollups();
  // Empty hours are skipped only up to the ones that have closed by now.
  const uint64_t closed_sec = BucketStartSec(
      ToUnixNanosClamped(absl::Now() - kHourCloseDelay), Tier::kHour);
  if (absl::Status s = CloseHours(end_sec, closed_sec); !s.ok()) return s;
  // CloseHours writes the buffer out only when it closes an hour itself,
  // and writes go on while it sums: what was acked before this read must
  // be in either way.
  return FlushRollups();
}

absl::StatusOr<absl::Time> RocksStore::HourTierEnd(const TimeRange& range,
                                                   absl::Time now) const {
  if (range.start < range.end) {
    // The hours wholly inside the range that have closed by `now`.
    const uint64_t end_sec = std::min(
        BucketStartSec(ToUnixNanosClamped(range.end), Tier::kHour),
        BucketStartSec(ToUnixNanosClamped(now - kHourCloseDelay), Tier::kHour));
    if (end_sec > hour_end_sec_.load()) {
      if (absl::Status s = CloseHours(end_sec, end_sec); !s.ok()) return s;
    }
  }
  return absl::FromUnixSeconds(static_cast<int64_t>(hour_end_sec_.load()));
}

absl::Status RocksStore::FlushRollupsLocked() const {
  std::vector<RollupBuffer> buffers;
  {
    absl::MutexLock lock(&leftover_mu_);
    buffers.swap(leftover_);
  }
  std::vector<NodeEntry*> nodes;
  {
    absl::MutexLock lock(&nodes_mu_);
    for (const auto& [name, node] : nodes_) nodes.push_back(node.get());
  }
  buffered_entries_ = 0;
  buffered_since_ns_ = INT64_MAX;
  for (NodeEntry* node : nodes) {
    absl::MutexLock lock(&node->mu);
    if (node->buffer.pending.empty()) continue;
    buffers.push_back(std::exchange(node->buffer, RollupBuffer()));
    node->buffer.minute.ReserveLike(buffers.back().minute);
  }
  if (buffers.empty()) return absl::OkStatus();
  absl::Status s = WriteBuffers(buffers, retained_from_sec_, &derived_views_,
                                /*logged=*/false);
  if (s.ok()) {
    for (const RollupBuffer& buffer : buffers) {
      unlogged_raw_from_ns_ =
          std::min(unlogged_raw_from_ns_, buffer.raw_from_ns);
    }
  } else {
    // Kept for the next flush: nothing acked is dropped.
    absl::MutexLock lock(&leftover_mu_);
    for (RollupBuffer& buffer : buffers) leftover_.push_back(std::move(buffer));
    int64_t none = INT64_MAX;
    buffered_since_ns_.compare_exchange_strong(none,
                                               absl::ToUnixNanos(absl::Now()));
  }
  return s;
}

absl::Status RocksStore::WriteBuffers(const std::vector<RollupBuffer>& buffers,
                                      const Cutoffs& cutoff_sec,
                                      DerivedViews* views, bool logged) const {
  // The merges and the deletion of their batches' pending records are one
  // atomic write. Unless `logged`, it skips the WAL: it lives in memtables
  // until a flush writes it out, with every family at once (atomic_flush).
  // A crash before that loses the whole write and nothing else that was
  // acked: the pending records it deleted come back from the WAL, and Open
  // redoes their rollups from raw (so retention must not delete that raw
  // first: unlogged_raw_from_ns_). Skipping the WAL saves writing every
  // rollup block twice.
  rocksdb::WriteBatch write(views->last_write_bytes);
  std::vector<const RollupBuffer*> sums;
  for (const RollupBuffer& buffer : buffers) {
    sums.push_back(&buffer);
    for (const std::string& key : buffer.pending) {
      write.Delete(cf(Family::kPending), key);
    }
  }
  AppendRollups(sums, cutoff_sec, views, &write);
  views->last_write_bytes = write.GetDataSize();
  rocksdb::WriteOptions options;
  options.disableWAL = !logged;
  return FromRocksDb(db_->Write(options, &write), "writing the rollup buffer");
}

absl::Status RocksStore::ConvertRollups() {
  // Entries per write: bounds the memory of a conversion.
  constexpr int kChunk = 1 << 16;
  for (Tier tier : kRollupTiers) {
    rocksdb::ColumnFamilyHandle* family = cf(TierFamily(tier));
    std::vector<BlockBuilder> shards;
    BlockKey current;
    bool open = false;
    rocksdb::WriteBatch write;
    int entries = 0;
    std::string block_key;
    // The blocks of the (bucket, view) read so far, into `write`.
    const auto write_blocks = [&] {
      for (size_t i = 0; i < shards.size(); ++i) {
        if (shards[i].empty()) continue;
        block_key.clear();
        current.shard = static_cast<uint16_t>(i);
        AppendBlockKey(current, &block_key);
        const absl::string_view block = shards[i].value();
        write.Merge(family, block_key,
                    rocksdb::Slice(block.data(), block.size()));
        shards[i].Reset(ViewKeySize(current.view));
      }
    };
    const auto commit = [&] {
      write_blocks();
      absl::Status s = FromRocksDb(
          db_->Write(write_options_, &write),
          absl::StrCat("converting ", TierName(tier), " rollups to blocks"));
      write.Clear();
      entries = 0;
      return s;
    };
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), family));
    RollupKey key;
    Totals totals;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view k(it->key().data(), it->key().size());
      if (k.size() == kBlockKeySize ||
          (k.size() > kBucketPrefixSize &&
           static_cast<uint8_t>(k[kBucketPrefixSize]) ==
               static_cast<uint8_t>(View::kNodeCounters))) {
        continue;  // already a block, or node counters (unchanged)
      }
      if (!DecodeRollupKey(k, &key) ||
          !DecodeTotalsValue(
              absl::string_view(it->value().data(), it->value().size()),
              &totals)) {
        return absl::DataLossError(absl::StrCat("undecodable ", TierName(tier),
                                                " rollup entry, key ",
                                                it->key().ToString(true)));
      }
      if (!open || key.bucket_start_sec != current.bucket_start_sec ||
          key.view != current.view) {
        write_blocks();
        if (entries >= kChunk) {
          if (absl::Status s = commit(); !s.ok()) return s;
        }
        current = {key.bucket_start_sec, key.view, 0};
        shards.resize(ShardCount(key.view));
        for (BlockBuilder& shard : shards) shard.Reset(ViewKeySize(key.view));
        open = true;
      }
      // Entries come in view key order, so each shard's do too.
      const absl::string_view view_key = k.substr(kViewPrefixSize);
      shards[ShardOf(key.view, view_key)].Add(view_key, totals);
      write.Delete(family, it->key());
      ++entries;
    }
    if (absl::Status s = FromRocksDb(
            it->status(),
            absl::StrCat("reading ", TierName(tier), " rollups to convert"));
        !s.ok()) {
      return s;
    }
    if (open) {
      if (absl::Status s = commit(); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RocksStore::ConvertRaw() {
  // Flows per write: bounds the memory of a conversion.
  constexpr size_t kChunk = 1 << 16;
  rocksdb::ColumnFamilyHandle* family = cf(Family::kRaw);
  rocksdb::WriteBatch write;
  size_t flows = 0;
  // The current bucket's blocks by (node id, batch): old keys come in
  // (last_seen, node, batch, index) order, so each block's flows come in
  // (last_seen, index) order.
  std::map<std::pair<uint32_t, uint64_t>, RawBlockBuilder> blocks;
  uint64_t bucket = 0;
  std::string key;
  const auto write_blocks = [&] {
    for (auto& [id, block] : blocks) {
      key.clear();
      AppendRawBlockKey({bucket, id.first, id.second}, &key);
      const absl::string_view value = block.value();
      write.Put(family, key, rocksdb::Slice(value.data(), value.size()));
    }
    blocks.clear();
  };
  const auto commit = [&] {
    absl::Status s = FromRocksDb(db_->Write(write_options_, &write),
                                 "converting raw flows to blocks");
    write.Clear();
    flows = 0;
    return s;
  };
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), family));
  RawKey flow_key;
  FlowRecord flow;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view k(it->key().data(), it->key().size());
    if (k.size() == kRawBlockKeySize) continue;  // already a block
    if (!DecodeRawKey(k, &flow_key) ||
        !DecodeRawValue(
            absl::string_view(it->value().data(), it->value().size()), &flow)) {
      return absl::DataLossError(absl::StrCat(
          "undecodable raw flow record, key ", it->key().ToString(true)));
    }
    const uint64_t flow_bucket = RawBucketStart(flow_key.last_seen_unix_nano);
    if (!blocks.empty() && flow_bucket != bucket) {
      write_blocks();
      if (flows >= kChunk) {
        if (absl::Status s = commit(); !s.ok()) return s;
      }
    }
    bucket = flow_bucket;
    blocks[{flow_key.node_id, flow_key.batch}].Add(flow_key.last_seen_unix_nano,
                                                   flow_key.index, flow);
    write.Delete(family, it->key());
    ++flows;
  }
  if (absl::Status s =
          FromRocksDb(it->status(), "reading raw flows to convert");
      !s.ok()) {
    return s;
  }
  write_blocks();
  return commit();
}

absl::Status RocksStore::RecoverRollups() {
  // Pending batches by (node id, batch number), and the raw time ranges
  // that hold their flows.
  struct Pending {
    PendingBatch batch;
    uint64_t found = 0;
  };
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, Pending> pending;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  RollupBuffer recovered;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(Family::kPending)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    PendingKey key;
    Pending entry;
    if (!DecodePendingKey(absl::string_view(it->key().data(), it->key().size()),
                          &key) ||
        !DecodePendingBatch(
            absl::string_view(it->value().data(), it->value().size()),
            &entry.batch)) {
      return absl::DataLossError(absl::StrCat(
          "undecodable pending batch record, key ", it->key().ToString(true)));
    }
    if (entry.batch.raw_flows > 0) {
      // The raw buckets holding the batch's flows.
      ranges.emplace_back(RawBucketStart(entry.batch.min_last_seen_unix_nano),
                          RawBucketStart(entry.batch.max_last_seen_unix_nano) +
                              (kRawBucketNanos - 1));
    }
    pending.emplace(std::make_pair(key.node_id, key.batch), std::move(entry));
    recovered.pending.emplace_back(it->key().data(), it->key().size());
  }
  if (absl::Status s = FromRocksDb(it->status(), "reading pending batches");
      !s.ok()) {
    return s;
  }
  if (pending.empty()) return absl::OkStatus();
  const absl::Time started = absl::Now();
  if (options_.progress) {
    options_.progress(absl::StrCat(
        "rolling up ", pending.size(),
        " batches again from raw flows: the store was not closed cleanly "
        "and their rollups had not reached disk"));
  }

  // Retention as of the last batch stored: what the writes themselves
  // went by (their cutoffs only grow with received_at). Retention at the
  // real time of this open is EnforceRetention's job.
  uint64_t last_received_ns = 0;
  {
    absl::MutexLock lock(&nodes_mu_);
    for (const auto& [name, node] : nodes_) {
      absl::MutexLock node_lock(&node->mu);
      last_received_ns =
          std::max(last_received_ns, node->state.last_seen_unix_nano);
    }
  }
  Cutoffs cutoff_sec;
  {
    absl::ReaderMutexLock lock(&retention_mu_);
    cutoff_sec = WriteCutoffs(
        absl::FromUnixNanos(static_cast<int64_t>(last_received_ns)));
  }
  // Each stretch of raw is read once, however many batches overlap in it.
  std::sort(ranges.begin(), ranges.end());
  FlowRecord flow;
  RawBlockKey key;
  RawBlock block;
  for (size_t i = 0; i < ranges.size();) {
    const uint64_t first = ranges[i].first;
    uint64_t last = ranges[i].second;
    for (++i; i < ranges.size() && ranges[i].first <= last; ++i) {
      last = std::max(last, ranges[i].second);
    }
    const std::string lower = RawTimeBound(first);
    const std::string upper = RawTimeBound(last + 1);
    const rocksdb::Slice lower_bound(lower);
    const rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions read;
    read.iterate_lower_bound = &lower_bound;
    read.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> raw(
        db_->NewIterator(read, cf(Family::kRaw)));
    for (raw->SeekToFirst(); raw->Valid(); raw->Next()) {
      if (!DecodeRawBlockKey(
              absl::string_view(raw->key().data(), raw->key().size()), &key)) {
        return absl::DataLossError(absl::StrCat("undecodable raw block key ",
                                                raw->key().ToString(true)));
      }
      auto found = pending.find(std::make_pair(key.node_id, key.batch));
      if (found == pending.end()) continue;
      if (!block.Parse(
              absl::string_view(raw->value().data(), raw->value().size()))) {
        return absl::DataLossError(absl::StrCat("undecodable raw block, key ",
                                                raw->key().ToString(true)));
      }
      for (size_t f = 0; f < block.size(); ++f) {
        if (!block.Flow(f, &flow)) {
          return absl::DataLossError(absl::StrCat(
              "undecodable raw flow in block ", raw->key().ToString(true)));
        }
        // A flow the buffer could not take was merged with its batch (the
        // cutoffs now are at or after the write's, so that still holds).
        if (Bufferable(flow, cutoff_sec)) {
          AddFlow(flow, key.node_id, cutoff_sec, &recovered);
        }
        found->second.found += 1;
      }
    }
    if (absl::Status s = FromRocksDb(raw->status(), "reading raw flows back");
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [id, entry] : pending) {
    if (entry.found != entry.batch.raw_flows) {
      const auto names = node_names();
      return absl::DataLossError(
          absl::StrCat("batch ", id.second, " of node ",
                       id.first < names->size() ? (*names)[id.first] : "?",
                       " is still to be rolled up, but raw holds ", entry.found,
                       " of its ", entry.batch.raw_flows, " flows"));
    }
    AddCounterRollups(entry.batch.counters,
                      entry.batch.interval_start_unix_nano, id.first,
                      cutoff_sec, &recovered.counters);
  }
  std::vector<RollupBuffer> buffers;
  buffers.push_back(std::move(recovered));
  DerivedViews views;
  // Logged: the retention pass at start may delete the raw flows it was
  // redone from.
  if (absl::Status s = WriteBuffers(buffers, cutoff_sec, &views,
                                    /*logged=*/true);
      !s.ok()) {
    return s;
  }
  if (options_.progress) {
    uint64_t flows = 0;
    for (const auto& [id, entry] : pending) flows += entry.found;
    options_.progress(absl::StrCat(
        "rolled up ", pending.size(), " batches (", flows, " flows) in ",
        absl::FormatDuration(
            absl::Trunc(absl::Now() - started, absl::Milliseconds(1)))));
  }
  return absl::OkStatus();
}

absl::Status RocksStore::ScanRaw(const RawScan& scan, RawVisitor visit) const {
  uint64_t start = ToUnixNanosClamped(scan.range.start);
  uint64_t end = ToUnixNanosClamped(scan.range.end);
  {
    // What retention deleted stays deleted to the ns, though whole raw
    // buckets go only once they are wholly past the cutoff.
    absl::ReaderMutexLock lock(&retention_mu_);
    start = std::max(start, retained_from_sec_[static_cast<int>(Tier::kRaw)] *
                                kNanosPerSecond);
  }
  RawKey cursor;
  const bool resume = !scan.cursor.empty();
  if (resume) {
    if (!DecodeRawKey(scan.cursor, &cursor)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cursor: not a flow cursor (", scan.cursor.size(), " bytes)"));
    }
    if (scan.newest_first) {
      end = std::min(end, cursor.last_seen_unix_nano + 1);
    } else {
      start = std::max(start, cursor.last_seen_unix_nano);
    }
  }
  if (start >= end) return absl::OkStatus();

  const std::string lower = RawTimeBound(RawBucketStart(start));
  const std::string upper = RawTimeBound(end);
  const rocksdb::Slice lower_bound(lower);
  const rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower_bound;
  read.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(read, cf(Family::kRaw)));
  // Names after the iterator: a node gets its id before its first write, so
  // every node of a flow the iterator sees is named.
  const std::shared_ptr<const NodeNames> names = node_names();
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
  scan.newest_first ? it->SeekToLast() : it->SeekToFirst();
  while (it->Valid()) {
    block_keys.clear();
    values.clear();
    RawBlockKey key;
    uint64_t bucket = 0;
    for (; it->Valid(); scan.newest_first ? it->Prev() : it->Next()) {
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
        if (resume && (scan.newest_first ? tie(k) >= tie(cursor)
                                         : tie(k) <= tie(cursor))) {
          continue;
        }
        listed.push_back({k, b, i});
      }
    }
    std::sort(listed.begin(), listed.end(),
              [&](const Listed& a, const Listed& b) {
                return scan.newest_first ? tie(a.key) > tie(b.key)
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

absl::Status RocksStore::ScanView(
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
  const std::string lower = BucketPrefix(first);
  const std::string upper = BucketPrefix(end);
  const rocksdb::Slice lower_bound(lower);
  const rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower_bound;
  read.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(read, cf(TierFamily(tier))));
  // As in ScanRaw: names after the iterator.
  const std::shared_ptr<const NodeNames> names = node_names();

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
    if (absl::Status s =
            visit(bucket, k,
                  absl::string_view(it->value().data(), it->value().size()),
                  *names, &more);
        !s.ok()) {
      return s;
    }
    it->Next();
  }
  return FromRocksDb(
      it->status(),
      absl::StrCat("scanning rollups ", TierName(tier), "/", ViewName(view)));
}

absl::Status RocksStore::ScanRollup(Tier tier, View view,
                                    const TimeRange& range,
                                    RollupVisitor visit) const {
  if (view == View::kNodeCounters) {
    return absl::InvalidArgumentError(
        "view: node_counters is not a flow view; use ScanNodeCounters");
  }
  // Everything acked before this read is in the answer.
  if (absl::Status s = ReadyToRead(tier, range); !s.ok()) return s;
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

absl::Status RocksStore::PresentBuckets(Tier tier, const TimeRange& range,
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
      db_->NewIterator(read, cf(TierFamily(tier))));
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

absl::Status RocksStore::SumRollup(Tier tier, View view, const TimeRange& range,
                                   RollupVisitor visit) const {
  if (absl::Status s = CheckFlowView(tier, view); !s.ok()) return s;
  // Everything acked before this read is in the answer.
  if (absl::Status s = ReadyToRead(tier, range); !s.ok()) return s;
  const uint64_t resolution =
      static_cast<uint64_t>(absl::ToInt64Seconds(TierResolution(tier)));
  // Runs over an unbounded range would never end.
  uint64_t first = 0;
  uint64_t end = 0;
  if (absl::Status s = PresentBuckets(tier, range, &first, &end); !s.ok()) {
    return s;
  }
  bool more = true;
  for (uint64_t run_start = first; more && run_start < end;
       run_start += resolution * kMaxSummedBuckets) {
    const uint64_t run_end =
        std::min(end, run_start + resolution * kMaxSummedBuckets);
    if (absl::Status s =
            SumRun(tier, view, run_start, run_end, resolution, visit, &more);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RocksStore::LookupRollup(Tier tier, View view,
                                      const TimeRange& range,
                                      absl::Span<const RollupEntry> keys,
                                      RollupVisitor visit) const {
  if (absl::Status s = CheckFlowView(tier, view); !s.ok()) return s;
  if (absl::Status s = ReadyToRead(tier, range); !s.ok()) return s;
  if (view == View::kNode) {
    return absl::InvalidArgumentError(
        "view: node keys hold node ids, not names; use ScanRollup");
  }
  const uint64_t resolution =
      static_cast<uint64_t>(absl::ToInt64Seconds(TierResolution(tier)));
  uint64_t first = 0;
  uint64_t end = 0;
  if (absl::Status s = PresentBuckets(tier, range, &first, &end); !s.ok()) {
    return s;
  }
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
      const rocksdb::Status got = db_->Get(
          rocksdb::ReadOptions(), cf(TierFamily(tier)), block_key, &value);
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

absl::Status RocksStore::MergeShards(
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
    bucket.it.reset(db_->NewIterator(read, cf(TierFamily(tier))));
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

absl::Status RocksStore::SumRun(Tier tier, View view, uint64_t first,
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
    if (names == nullptr) names = node_names();
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
    if (absl::Status s = MergeShards(tier, view, first, end, resolution, 0,
                                     shards, visit_summed);
        !s.ok()) {
      return s;
    }
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

std::unique_ptr<SummedList> RocksStore::TakeSummedList() const {
  absl::MutexLock lock(&summed_mu_);
  if (summed_list_ == nullptr) return std::make_unique<SummedList>();
  return std::move(summed_list_);
}

void RocksStore::GiveBackSummedList(std::unique_ptr<SummedList> list) const {
  list->Clear();
  absl::MutexLock lock(&summed_mu_);
  if (summed_list_ == nullptr) summed_list_ = std::move(list);
}

absl::Status RocksStore::ScanNodeCounters(Tier tier, const TimeRange& range,
                                          CountersVisitor visit) const {
  if (absl::Status s = FlushRollups(); !s.ok()) return s;
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

std::vector<NodeInfo> RocksStore::GetNodes() const {
  // Entries are collected under nodes_mu_ but read under their own lock
  // only, so a slow (synced) write of one node holds up nobody else.
  std::vector<NodeEntry*> entries;
  {
    absl::MutexLock lock(&nodes_mu_);
    entries.reserve(nodes_.size());
    for (const auto& [name, entry] : nodes_) entries.push_back(entry.get());
  }
  std::vector<NodeInfo> nodes;
  nodes.reserve(entries.size());
  for (NodeEntry* entry : entries) {
    absl::MutexLock lock(&entry->mu);
    if (entry->persisted)
      nodes.push_back(ToNodeInfo(entry->name, entry->state));
  }
  std::sort(
      nodes.begin(), nodes.end(),
      [](const NodeInfo& a, const NodeInfo& b) { return a.name < b.name; });
  return nodes;
}

uint64_t RocksStore::ApproximateSize() const {
  uint64_t sst = 0;
  uint64_t memtables = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize,
                                &sst);
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables,
                                &memtables);
  return sst + memtables;
}

Store::Memory RocksStore::MemoryUsage() const {
  Memory memory;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables,
                                &memory.memtables);
  // One cache for every family: any family's figure is the whole cache's.
  db_->GetIntProperty(cf(Family::kRaw),
                      rocksdb::DB::Properties::kBlockCacheUsage,
                      &memory.block_cache);
  return memory;
}

absl::Status RocksStore::EnforceRetention(absl::Time now) {
  struct Expired {
    Family family;
    std::string begin;
    std::string end;
  };
  std::vector<Expired> expired;
  // Every hour m1 is about to lose minutes of is summed into h1 first, and
  // that reaches disk before they are deleted (the deletion is logged, the
  // summing not). Writes to those hours merge into h1 from then on.
  const uint64_t minute_cutoff = RetentionCutoffSec(Tier::kMinute, now);
  if (const uint64_t end_sec = (minute_cutoff + 3599) / 3600 * 3600;
      end_sec > hour_end_sec_.load()) {
    bool summed = false;
    if (absl::Status s = CloseHours(end_sec, end_sec, &summed); !s.ok()) {
      return s;
    }
    if (summed) {
      if (absl::Status s = FlushMemtables(); !s.ok()) return s;
    }
  }
  {
    absl::MutexLock flush_lock(&flush_mu_);
    absl::MutexLock lock(&retention_mu_);
    // The buffer goes out first: its pending batches' raw flows must still
    // be there for a recovery until their rollups are written.
    if (absl::Status s = FlushRollupsLocked(); !s.ok()) return s;
    Cutoffs cutoff_sec = retained_from_sec_;
    rocksdb::WriteBatch write;
    for (Tier tier : kTiers) {
      const int i = static_cast<int>(tier);
      cutoff_sec[i] = RetentionCutoffSec(tier, now);
      if (cutoff_sec[i] <= retained_from_sec_[i]) continue;
      // After a restart (retained_from_sec_ 0), from the very first key.
      Expired range;
      range.family = TierFamily(tier);
      if (tier == Tier::kRaw) {
        // Whole raw buckets only: one that straddles the cutoff stays until
        // it is wholly past (ScanRaw hides what it holds before the
        // cutoff).
        range.begin = retained_from_sec_[i] == 0
                          ? std::string()
                          : RawTimeBound(RawBucketStart(retained_from_sec_[i] *
                                                        kNanosPerSecond));
        range.end =
            RawTimeBound(RawBucketStart(cutoff_sec[i] * kNanosPerSecond));
      } else {
        range.begin = retained_from_sec_[i] == 0
                          ? std::string()
                          : BucketPrefix(retained_from_sec_[i]);
        range.end = BucketPrefix(cutoff_sec[i]);
      }
      write.DeleteRange(cf(range.family), range.begin, range.end);
      expired.push_back(std::move(range));
    }
    if (expired.empty()) return absl::OkStatus();
    const uint64_t raw_end_ns = RawBucketStart(
        cutoff_sec[static_cast<int>(Tier::kRaw)] * kNanosPerSecond);
    if (unlogged_raw_from_ns_ < raw_end_ns) {
      // Such rollups reach disk before the raw flows a recovery of them
      // would read are deleted. Rare: about once per raw retention, as the
      // bound is kept from one such flush to the next, or for a late batch
      // near raw's cutoff. Ingest waits meanwhile (retention_mu_).
      if (absl::Status s = FlushMemtables(); !s.ok()) return s;
      unlogged_raw_from_ns_ = UINT64_MAX;
    }
    if (absl::Status s = FromRocksDb(db_->Write(write_options_, &write),
                                     "deleting expired buckets");
        !s.ok()) {
      return s;
    }
    retained_from_sec_ = cutoff_sec;
  }
  // The data is already deleted; dropping whole SST files in the range
  // returns the space now instead of at the next compaction.
  for (const Expired& range : expired) {
    const rocksdb::Slice begin(range.begin);
    const rocksdb::Slice end(range.end);
    if (absl::Status s = FromRocksDb(
            rocksdb::DeleteFilesInRange(db_.get(), cf(range.family), &begin,
                                        &end, /*include_end=*/false),
            absl::StrCat("dropping expired files of ",
                         FamilyName(range.family)));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RocksStore::Flush() {
  if (absl::Status s = FlushRollups(); !s.ok()) return s;
  return FlushMemtables();
}

absl::Status RocksStore::FlushMemtables() const {
  std::vector<rocksdb::ColumnFamilyHandle*> families(
      handles_.begin(), handles_.begin() + kFamilyCount);
  return FromRocksDb(db_->Flush(rocksdb::FlushOptions(), families),
                     "flushing memtables");
}

absl::Status RocksStore::Compact() {
  if (absl::Status s = FlushRollups(); !s.ok()) return s;
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction =
      rocksdb::BottommostLevelCompaction::kForce;
  for (Family family : kFamilies) {
    if (absl::Status s = FromRocksDb(
            db_->CompactRange(compact, cf(family), nullptr, nullptr),
            absl::StrCat("compacting ", FamilyName(family)));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(
    const StoreOptions& options) {
  return RocksStore::Open(options);
}

absl::StatusOr<IngestResult> Store::WriteBatch(const weir::v1::FlowBatch& batch,
                                               absl::Time received_at) {
  const weir::v1::FlowBatch* const one[] = {&batch};
  return std::move(WriteBatches(one, received_at).front());
}

}  // namespace weir::store
