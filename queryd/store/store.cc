#include "queryd/store/store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "queryd/store/batch_validator.h"
#include "queryd/store/encoding.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_merge_operator.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace weir::store {
namespace {

constexpr Family kFamilies[] = {Family::kRaw, Family::kMinute, Family::kHour,
                                Family::kNodes, Family::kMeta};
constexpr Tier kRollupTiers[] = {Tier::kMinute, Tier::kHour};
constexpr uint64_t kNanosPerSecond = 1000000000;
// SumRollup merges a run on two threads when each gets at least this many
// buckets; below, a thread costs more than it saves.
constexpr uint64_t kMinBucketsPerThread = 6;

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
      // Append-mostly by time, read by range scans: big blocks, cheap
      // compression, zstd where data settles.
      options.write_buffer_size = 64 << 20;
      table.block_size = 16 << 10;
      options.compression = rocksdb::kLZ4Compression;
      options.bottommost_compression = rocksdb::kZSTD;
      options.level_compaction_dynamic_level_bytes = true;
      break;
    case Family::kMinute:
    case Family::kHour:
      // Rollups: many merges per key; RocksDB folds operands in flushes and
      // compactions (and on reads, through the same operator).
      options.merge_operator = std::make_shared<RollupMergeOperator>();
      options.write_buffer_size = 8 << 20;
      table.block_size = 16 << 10;
      options.compression = rocksdb::kLZ4Compression;
      options.bottommost_compression = rocksdb::kZSTD;
      options.level_compaction_dynamic_level_bytes = true;
      break;
    case Family::kNodes:
    case Family::kMeta:
      // A few small records, read at open.
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
// recovery, compaction) could change it.
absl::Status CheckFormatVersion(const std::string& dir) {
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

  absl::Status result = absl::OkStatus();
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
    }
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  return result;
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

// Bytes [i, i + 8) of `s` as a big-endian number: comparing two of them
// compares the bytes.
uint64_t Word(absl::string_view s, size_t i) {
  uint64_t word;
  std::memcpy(&word, s.data() + i, sizeof(word));
#if ABSL_IS_LITTLE_ENDIAN
  word = __builtin_bswap64(word);
#endif
  return word;
}

// a < b in byte order, as string_view's operator< but eight bytes at a
// time: the merge of SumRollup compares view keys of 1 to 32 bytes, where
// the call to memcmp costs more than the comparison itself.
bool KeyLess(absl::string_view a, absl::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t x = Word(a, i);
    const uint64_t y = Word(b, i);
    if (x != y) return x < y;
  }
  for (; i < n; ++i) {
    if (a[i] != b[i]) {
      return static_cast<uint8_t>(a[i]) < static_cast<uint8_t>(b[i]);
    }
  }
  return a.size() < b.size();
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

// Entries of a view summed by MergeBuckets, in key order, their keys one
// after the other in one string.
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

// The lists of the two halves of a run merged at once.
struct SummedLists {
  SummedList earlier;
  SummedList later;
};

class RocksStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const StoreOptions& options);

  ~RocksStore() override;

  using Store::WriteBatch;
  absl::StatusOr<IngestResult> WriteBatch(const weir::v1::FlowBatch& batch,
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
  absl::Status EnforceRetention(absl::Time now) override;
  absl::Status Flush() override;
  absl::Status Compact() override;
  const StoreOptions& options() const override { return options_; }

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
  // Adds the batch's flows and rollups to `out`; returns the flows stored.
  uint64_t AddBatch(const weir::v1::FlowBatch& batch, uint32_t node_id,
                    uint64_t batch_number, absl::Time received_at,
                    rocksdb::WriteBatch* out) const
      ABSL_SHARED_LOCKS_REQUIRED(retention_mu_);
  // The buckets of `range` from the first present to the last, as Unix
  // seconds [*first, *end); empty when none is.
  absl::Status PresentBuckets(Tier tier, const TimeRange& range,
                              uint64_t* first, uint64_t* end) const;
  // SumRollup over the buckets in [first, end) (Unix seconds, `first` a
  // bucket start, at most kMaxSummedBuckets of them); sets *more to false
  // when `visit` does.
  // Merges the buckets in [first, end) of one view (`first` a bucket start)
  // on their view keys: emit(key, totals) once per view key, in key order,
  // with the key as stored in the first bucket holding it and the totals
  // of every bucket, until emit returns false.
  absl::Status MergeBuckets(
      Tier tier, View view, uint64_t first, uint64_t end, uint64_t resolution,
      absl::FunctionRef<bool(absl::string_view key, const Totals& totals)> emit)
      const;
  // MergeBuckets of [first, middle) and [middle, end) at once, on two
  // threads, into `lists`, then emit(key, totals) of the two merged.
  absl::Status MergeHalves(
      Tier tier, View view, uint64_t first, uint64_t middle, uint64_t end,
      uint64_t resolution,
      absl::FunctionRef<bool(absl::string_view key, const Totals& totals)> emit,
      SummedLists& lists) const;
  // MergeHalves' lists, kept from one run to the next (one set, for the
  // query that finds it free; others make their own): reusing their memory
  // spares a day's top-N tens of MB of fresh pages and vector growth per
  // query, which cost it a third of its time when other queries ran
  // between.
  std::unique_ptr<SummedLists> TakeSummedLists() const;
  void GiveBackSummedLists(std::unique_ptr<SummedLists> lists) const;
  absl::Status SumRun(Tier tier, View view, uint64_t first, uint64_t end,
                      uint64_t resolution, RollupVisitor visit,
                      bool* more) const;
  // Visits the entries of one view of a rollup tier, bucket by bucket.
  absl::Status ScanView(Tier tier, View view, const TimeRange& range,
                        absl::FunctionRef<absl::Status(
                            const RollupKey& key, absl::string_view value,
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
  std::array<uint64_t, 3> retained_from_sec_ ABSL_GUARDED_BY(retention_mu_) = {
      0, 0, 0};

  mutable absl::Mutex summed_mu_;
  mutable std::unique_ptr<SummedLists> summed_lists_
      ABSL_GUARDED_BY(summed_mu_);
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
  } else if (absl::Status s = CheckFormatVersion(dir); !s.ok()) {
    return s;
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

  std::string version;
  PutU32(&version, kFormatVersion);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (absl::Status s =
          FromRocksDb(store->db_->Put(sync, store->cf(Family::kMeta),
                                      std::string{kFormatVersionKey}, version),
                      absl::StrCat("writing the format version to ", dir));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = store->LoadNodes(); !s.ok()) return s;
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

absl::StatusOr<IngestResult> RocksStore::WriteBatch(
    const weir::v1::FlowBatch& batch, absl::Time received_at) {
  if (absl::Status s = ValidateBatch(batch); !s.ok()) return s;
  NodeEntry* node = FindOrAddNode(batch.node());
  absl::MutexLock lock(&node->mu);

  IngestResult result;
  result.epoch = batch.epoch();
  result.seq = batch.seq();
  NodeState next = node->state;
  if (!node->persisted) {
    next.id = node->id;
    next.first_seen_unix_nano = ToUnixNanosClamped(received_at);
  } else if (batch.epoch() < next.epoch) {
    result.outcome = IngestResult::Outcome::kStaleEpoch;
    next.stale_batches += 1;
  } else if (batch.epoch() == next.epoch && batch.seq() <= next.seq) {
    result.outcome = IngestResult::Outcome::kDuplicate;
    return result;
  } else if (batch.epoch() == next.epoch) {
    result.skipped_seqs = batch.seq() - next.seq - 1;
  } else {
    // A new epoch restarts seq at 1.
    result.skipped_seqs = batch.seq() - 1;
  }

  rocksdb::WriteBatch write;
  absl::ReaderMutexLock retention_lock(&retention_mu_);
  if (result.outcome == IngestResult::Outcome::kStored) {
    next.epoch = batch.epoch();
    next.seq = batch.seq();
    next.gaps += result.skipped_seqs;
    next.batches += 1;
    next.last_seen_unix_nano = ToUnixNanosClamped(received_at);
    next.version = batch.collector_version();
    AddCounters(CountersFromProto(batch.counters()), &next.counters);
    result.flows = AddBatch(batch, node->id, next.batches, received_at, &write);
    next.flows += result.flows;
  }
  std::string state;
  AppendNodeState(next, &state);
  write.Put(cf(Family::kNodes), node->name, state);

  if (absl::Status s = FromRocksDb(
          db_->Write(write_options_, &write),
          absl::StrCat("storing batch (epoch ", batch.epoch(), ", seq ",
                       batch.seq(), ") of node \"", node->name, "\""));
      !s.ok()) {
    return s;
  }
  node->state = std::move(next);
  node->persisted = true;
  return result;
}

uint64_t RocksStore::AddBatch(const weir::v1::FlowBatch& batch,
                              uint32_t node_id, uint64_t batch_number,
                              absl::Time received_at,
                              rocksdb::WriteBatch* out) const {
  // Nothing goes below a tier's retention cutoff: it would never be read,
  // and retention has already passed it.
  std::array<uint64_t, 3> cutoff_sec;
  for (Tier tier : kTiers) {
    const int i = static_cast<int>(tier);
    cutoff_sec[i] =
        std::max(RetentionCutoffSec(tier, received_at), retained_from_sec_[i]);
  }
  const uint64_t raw_cutoff_ns =
      cutoff_sec[static_cast<int>(Tier::kRaw)] * kNanosPerSecond;

  absl::flat_hash_map<uint32_t, absl::string_view> ifnames;
  for (const weir::v1::Interface& interface : batch.interfaces()) {
    ifnames.emplace(interface.ifindex(), interface.name());
  }

  // Raw records are written in key order, and totals are summed per rollup
  // key within the batch first (one merge per distinct key and tier, not
  // one per flow), then written in key order too: a memtable insert right
  // after its predecessor is much cheaper than one at a random place.
  std::vector<std::pair<std::string, std::string>> raw;
  raw.reserve(batch.flows_size());
  std::array<absl::flat_hash_map<std::string, Totals>, 2> rollups;
  FlowRecord flow;
  RollupKey rollup;
  std::string key;
  std::string value;
  uint64_t stored = 0;
  for (int i = 0; i < batch.flows_size(); ++i) {
    const weir::v1::IngestFlow& in = batch.flows(i);
    flow.ifindex = in.ifindex();
    const absl::string_view ifname = ifnames[in.ifindex()];
    flow.ifname.assign(ifname.data(), ifname.size());
    flow.direction = in.direction();
    flow.protocol = static_cast<uint8_t>(in.protocol());
    AddressFromBytes(in.src_addr(), &flow.src_addr);
    AddressFromBytes(in.dst_addr(), &flow.dst_addr);
    flow.src_port = static_cast<uint16_t>(in.src_port());
    flow.dst_port = static_cast<uint16_t>(in.dst_port());
    flow.icmp_type = static_cast<uint8_t>(in.icmp_type());
    flow.icmp_code = static_cast<uint8_t>(in.icmp_code());
    flow.fragment = in.fragment();
    flow.tcp_flags = static_cast<uint8_t>(in.tcp_flags());
    flow.packets = in.packets();
    flow.bytes = in.bytes();
    flow.first_seen_unix_nano = in.first_seen_unix_nano();
    flow.last_seen_unix_nano = in.last_seen_unix_nano();

    bool kept = false;
    if (flow.last_seen_unix_nano >= raw_cutoff_ns) {
      raw.emplace_back();
      AppendRawKey({flow.last_seen_unix_nano, node_id, batch_number,
                    static_cast<uint32_t>(i)},
                   &raw.back().first);
      AppendRawValue(flow, &raw.back().second);
      kept = true;
    }

    const Totals totals = {flow.bytes,
                           flow.packets,
                           1,
                           flow.first_seen_unix_nano,
                           flow.last_seen_unix_nano,
                           false};
    rollup.src_addr = flow.src_addr;
    rollup.dst_addr = flow.dst_addr;
    rollup.node_id = node_id;
    rollup.direction = static_cast<uint8_t>(flow.direction);
    rollup.ifname = flow.ifname;
    for (Tier tier : kRollupTiers) {
      rollup.bucket_start_sec = BucketStartSec(flow.last_seen_unix_nano, tier);
      if (rollup.bucket_start_sec < cutoff_sec[static_cast<int>(tier)]) {
        continue;
      }
      kept = true;
      auto& sums = rollups[tier == Tier::kMinute ? 0 : 1];
      for (View view : kFlowViews) {
        rollup.view = view;
        rollup.protocol = flow.protocol;
        rollup.port = view == View::kSrcPort   ? flow.src_port
                      : view == View::kDstPort ? flow.dst_port
                                               : 0;
        key.clear();
        AppendRollupKey(rollup, &key);
        sums[key] += totals;
      }
    }
    if (kept) ++stored;
  }

  std::sort(raw.begin(), raw.end());
  for (const auto& [raw_key, raw_value] : raw) {
    out->Put(cf(Family::kRaw), raw_key, raw_value);
  }
  std::vector<const std::pair<const std::string, Totals>*> sorted;
  for (Tier tier : kRollupTiers) {
    const auto& sums = rollups[tier == Tier::kMinute ? 0 : 1];
    sorted.clear();
    sorted.reserve(sums.size());
    for (const auto& entry : sums) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    for (const auto* entry : sorted) {
      value.clear();
      AppendTotalsValue(entry->second, &value);
      out->Merge(cf(TierFamily(tier)), entry->first, value);
    }
  }

  // The batch's accounting, per node and bucket of its interval start.
  const CounterVector counters = CountersFromProto(batch.counters());
  value.clear();
  AppendCountersValue(counters, /*damaged=*/false, &value);
  for (Tier tier : kRollupTiers) {
    RollupKey counters_key;
    counters_key.bucket_start_sec =
        BucketStartSec(batch.interval_start_unix_nano(), tier);
    if (counters_key.bucket_start_sec < cutoff_sec[static_cast<int>(tier)]) {
      continue;
    }
    counters_key.view = View::kNodeCounters;
    counters_key.node_id = node_id;
    key.clear();
    AppendRollupKey(counters_key, &key);
    out->Merge(cf(TierFamily(tier)), key, value);
  }
  return stored;
}

absl::Status RocksStore::ScanRaw(const RawScan& scan, RawVisitor visit) const {
  std::string lower = RawTimeBound(ToUnixNanosClamped(scan.range.start));
  std::string upper = RawTimeBound(ToUnixNanosClamped(scan.range.end));
  if (!scan.cursor.empty()) {
    RawKey cursor;
    if (!DecodeRawKey(scan.cursor, &cursor)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cursor: not a flow cursor (", scan.cursor.size(), " bytes)"));
    }
    if (scan.newest_first) {
      upper = std::min(upper, scan.cursor);
    } else {
      // The smallest key after the cursor.
      lower = std::max(lower, scan.cursor + std::string(1, '\0'));
    }
  }
  if (lower >= upper) return absl::OkStatus();

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
  FlowRecord flow;
  RawKey key;
  for (scan.newest_first ? it->SeekToLast() : it->SeekToFirst(); it->Valid();
       scan.newest_first ? it->Prev() : it->Next()) {
    const absl::string_view k(it->key().data(), it->key().size());
    if (!DecodeRawKey(k, &key) || key.node_id >= names->size() ||
        !DecodeRawValue(
            absl::string_view(it->value().data(), it->value().size()), &flow)) {
      return absl::DataLossError(absl::StrCat(
          "undecodable raw flow record, key ", it->key().ToString(true)));
    }
    flow.node = (*names)[key.node_id];
    flow.last_seen_unix_nano = key.last_seen_unix_nano;
    if (!visit(flow, k)) break;
  }
  return FromRocksDb(it->status(), "scanning raw flows");
}

absl::Status RocksStore::ScanView(
    Tier tier, View view, const TimeRange& range,
    absl::FunctionRef<absl::Status(const RollupKey& key,
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

  // Keys are [bucket][view][view key]: read this view's run in a bucket,
  // then seek straight to the same view of the next bucket present.
  const uint8_t wanted = static_cast<uint8_t>(view);
  RollupKey key;
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
    if (!DecodeRollupKey(k, &key)) {
      return absl::DataLossError(
          absl::StrCat("undecodable rollup key ", it->key().ToString(true)));
    }
    if (absl::Status s = visit(
            key, absl::string_view(it->value().data(), it->value().size()),
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
  RollupEntry entry;
  return ScanView(tier, view, range,
                  [&](const RollupKey& key, absl::string_view value,
                      const NodeNames& names, bool* more) -> absl::Status {
                    if (!DecodeTotalsValue(value, &entry.totals) ||
                        !SetEntryKey(key, names, &entry)) {
                      return UndecodableEntry(tier, view, key.bucket_start_sec);
                    }
                    *more = visit(entry);
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
  RollupKey key;
  key.view = view;
  std::string encoded;
  rocksdb::PinnableSlice value;
  RollupEntry entry;
  for (uint64_t bucket = first; bucket < end; bucket += resolution) {
    key.bucket_start_sec = bucket;
    for (const RollupEntry& wanted : keys) {
      key.src_addr = wanted.src_addr;
      key.dst_addr = wanted.dst_addr;
      key.protocol = wanted.protocol;
      key.port = wanted.port;
      encoded.clear();
      AppendRollupKey(key, &encoded);
      value.Reset();
      const rocksdb::Status got = db_->Get(
          rocksdb::ReadOptions(), cf(TierFamily(tier)), encoded, &value);
      if (got.IsNotFound()) continue;
      if (!got.ok()) {
        return FromRocksDb(got, absl::StrCat("reading rollups ", TierName(tier),
                                             "/", ViewName(view)));
      }
      if (!DecodeTotalsValue(absl::string_view(value.data(), value.size()),
                             &entry.totals) ||
          !SetEntryKey(key, {}, &entry)) {
        return UndecodableEntry(tier, view, bucket);
      }
      if (!visit(entry)) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status RocksStore::MergeBuckets(
    Tier tier, View view, uint64_t first, uint64_t end, uint64_t resolution,
    absl::FunctionRef<bool(absl::string_view key, const Totals& totals)> emit)
    const {
  // One iterator per bucket, bounded to this view's keys in it: each reads
  // its bucket's entries in key order, and a min-heap on their view keys
  // (the key after the 9-byte prefix, the same layout in every bucket)
  // merges them, so equal keys of several buckets come together and are
  // summed.
  struct Bucket {
    std::string lower;
    std::string upper;
    rocksdb::Slice lower_bound;
    rocksdb::Slice upper_bound;
    std::unique_ptr<rocksdb::Iterator> it;
    // The iterator's current key, kept: reaching it through the virtual
    // Iterator::key() on every comparison cost as much as the rest of the
    // merge.
    absl::string_view key;

    absl::string_view view_key() const { return key.substr(kViewPrefixSize); }
  };
  const size_t count =
      static_cast<size_t>((end - first + resolution - 1) / resolution);
  // Fixed size: the bounds' slices point into the strings, which must not
  // move.
  std::vector<Bucket> buckets(count);
  std::vector<Bucket*> heap;
  heap.reserve(count);
  const auto scan_error = [&](const Bucket& bucket) {
    if (!bucket.it->status().ok()) {
      return FromRocksDb(bucket.it->status(),
                         absl::StrCat("scanning rollups ", TierName(tier), "/",
                                      ViewName(view)));
    }
    return absl::DataLossError(absl::StrCat("undecodable rollup key ",
                                            bucket.it->key().ToString(true)));
  };
  // Takes the bucket's current key; false when it has none (done, or an
  // error, which scan_error tells) or it is too short to be a rollup key.
  const auto load = [](Bucket* bucket) {
    if (!bucket->it->Valid()) return false;
    bucket->key =
        absl::string_view(bucket->it->key().data(), bucket->it->key().size());
    return bucket->key.size() >= kViewPrefixSize;
  };
  // Moves the top of the heap down to its place.
  const auto sift_down = [&heap] {
    Bucket* const moving = heap[0];
    size_t i = 0;
    for (;;) {
      size_t child = 2 * i + 1;
      if (child >= heap.size()) break;
      if (child + 1 < heap.size() &&
          KeyLess(heap[child + 1]->view_key(), heap[child]->view_key())) {
        ++child;
      }
      if (!KeyLess(heap[child]->view_key(), moving->view_key())) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = moving;
  };
  // Steps the top bucket to its next entry, or drops it when it is done.
  const auto next = [&]() -> absl::Status {
    Bucket* top = heap[0];
    top->it->Next();
    if (!load(top)) {
      if (top->it->Valid() || !top->it->status().ok()) {
        return scan_error(*top);
      }
      heap[0] = heap.back();
      heap.pop_back();
      if (heap.empty()) return absl::OkStatus();
    }
    sift_down();
    return absl::OkStatus();
  };

  rocksdb::ReadOptions read;
  for (size_t i = 0; i < count; ++i) {
    Bucket& bucket = buckets[i];
    const uint64_t start = first + i * resolution;
    bucket.lower = ViewPrefix(start, view);
    // The prefix of the next view id: view ids are far below 255.
    bucket.upper = bucket.lower;
    ++bucket.upper.back();
    bucket.lower_bound = bucket.lower;
    bucket.upper_bound = bucket.upper;
    read.iterate_lower_bound = &bucket.lower_bound;
    read.iterate_upper_bound = &bucket.upper_bound;
    bucket.it.reset(db_->NewIterator(read, cf(TierFamily(tier))));
    bucket.it->SeekToFirst();
    if (load(&bucket)) {
      heap.push_back(&bucket);
    } else if (bucket.it->Valid() || !bucket.it->status().ok()) {
      return scan_error(bucket);
    }
  }
  std::make_heap(heap.begin(), heap.end(),
                 [](const Bucket* a, const Bucket* b) {
                   return a->view_key() > b->view_key();
                 });
  Totals sum;
  Totals totals;
  std::string key;
  while (!heap.empty()) {
    const Bucket& top = *heap[0];
    if (!DecodeTotalsValue(
            absl::string_view(top.it->value().data(), top.it->value().size()),
            &sum)) {
      uint64_t start = 0;
      DecodeBucket(top.key, &start);
      return UndecodableEntry(tier, view, start);
    }
    key.assign(top.key.data(), top.key.size());
    const absl::string_view view_key =
        absl::string_view(key).substr(kViewPrefixSize);
    if (absl::Status s = next(); !s.ok()) return s;
    // The same key in the other buckets: no key left is below view_key, so
    // one not above it is equal.
    while (!heap.empty() && !KeyLess(view_key, heap[0]->view_key())) {
      const Bucket& same = *heap[0];
      if (!DecodeTotalsValue(absl::string_view(same.it->value().data(),
                                               same.it->value().size()),
                             &totals)) {
        uint64_t start = 0;
        DecodeBucket(same.key, &start);
        return UndecodableEntry(tier, view, start);
      }
      sum += totals;
      if (absl::Status s = next(); !s.ok()) return s;
    }
    if (!emit(key, sum)) break;
  }
  return absl::OkStatus();
}

absl::Status RocksStore::SumRun(Tier tier, View view, uint64_t first,
                                uint64_t end, uint64_t resolution,
                                RollupVisitor visit, bool* more) const {
  // The names are read after MergeBuckets made its iterators (as in
  // ScanRollup), so every node of an entry is named.
  std::shared_ptr<const NodeNames> names;
  RollupKey key;
  RollupEntry entry;
  entry.bucket = absl::FromUnixSeconds(static_cast<int64_t>(first));
  absl::Status visited = absl::OkStatus();
  const auto visit_summed = [&](absl::string_view k, const Totals& totals) {
    if (names == nullptr) names = node_names();
    if (!DecodeRollupKey(k, &key) || !SetEntryKey(key, *names, &entry)) {
      visited = UndecodableEntry(tier, view, key.bucket_start_sec);
      return false;
    }
    entry.bucket = absl::FromUnixSeconds(static_cast<int64_t>(first));
    entry.totals = totals;
    *more = visit(entry);
    return *more;
  };

  const uint64_t count = (end - first + resolution - 1) / resolution;
  if (count < kMinBucketsPerThread * 2) {
    if (absl::Status s =
            MergeBuckets(tier, view, first, end, resolution, visit_summed);
        !s.ok()) {
      return s;
    }
    return visited;
  }

  const uint64_t middle = first + count / 2 * resolution;
  std::unique_ptr<SummedLists> lists = TakeSummedLists();
  absl::Status merged = MergeHalves(tier, view, first, middle, end, resolution,
                                    visit_summed, *lists);
  GiveBackSummedLists(std::move(lists));
  if (!merged.ok()) return merged;
  return visited;
}

absl::Status RocksStore::MergeHalves(
    Tier tier, View view, uint64_t first, uint64_t middle, uint64_t end,
    uint64_t resolution,
    absl::FunctionRef<bool(absl::string_view key, const Totals& totals)> emit,
    SummedLists& lists) const {
  // The two halves at once, the later on a second thread (a top-N is bound
  // by this merge, and the machine has more than one core), each into a
  // sorted list; then the two lists are merged.
  SummedList& earlier = lists.earlier;
  SummedList& later = lists.later;
  absl::Status later_status;
  std::thread worker([&] {
    later_status = MergeBuckets(
        tier, view, middle, end, resolution,
        [&](absl::string_view k, const Totals& t) { return later.Add(k, t); });
  });
  absl::Status earlier_status = MergeBuckets(
      tier, view, first, middle, resolution,
      [&](absl::string_view k, const Totals& t) { return earlier.Add(k, t); });
  worker.join();
  if (!earlier_status.ok()) return earlier_status;
  if (!later_status.ok()) return later_status;

  size_t i = 0;
  size_t j = 0;
  bool go_on = true;
  while (go_on && (i < earlier.entries.size() || j < later.entries.size())) {
    if (j == later.entries.size()) {
      go_on = emit(earlier.key(earlier.entries[i]), earlier.entries[i].totals);
      ++i;
      continue;
    }
    if (i == earlier.entries.size()) {
      go_on = emit(later.key(later.entries[j]), later.entries[j].totals);
      ++j;
      continue;
    }
    const absl::string_view a =
        earlier.key(earlier.entries[i]).substr(kViewPrefixSize);
    const absl::string_view b =
        later.key(later.entries[j]).substr(kViewPrefixSize);
    if (KeyLess(a, b)) {
      go_on = emit(earlier.key(earlier.entries[i]), earlier.entries[i].totals);
      ++i;
    } else if (KeyLess(b, a)) {
      go_on = emit(later.key(later.entries[j]), later.entries[j].totals);
      ++j;
    } else {
      Totals sum = earlier.entries[i].totals;
      sum += later.entries[j].totals;
      go_on = emit(earlier.key(earlier.entries[i]), sum);
      ++i;
      ++j;
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<SummedLists> RocksStore::TakeSummedLists() const {
  absl::MutexLock lock(&summed_mu_);
  if (summed_lists_ == nullptr) return std::make_unique<SummedLists>();
  return std::move(summed_lists_);
}

void RocksStore::GiveBackSummedLists(std::unique_ptr<SummedLists> lists) const {
  lists->earlier.Clear();
  lists->later.Clear();
  absl::MutexLock lock(&summed_mu_);
  if (summed_lists_ == nullptr) summed_lists_ = std::move(lists);
}

absl::Status RocksStore::ScanNodeCounters(Tier tier, const TimeRange& range,
                                          CountersVisitor visit) const {
  NodeCountersEntry entry;
  CounterVector counters;
  return ScanView(
      tier, View::kNodeCounters, range,
      [&](const RollupKey& key, absl::string_view value, const NodeNames& names,
          bool* more) -> absl::Status {
        if (!DecodeCountersValue(value, &counters, &entry.damaged) ||
            key.node_id >= names.size()) {
          return absl::DataLossError(
              absl::StrCat("undecodable node counters in ", TierName(tier),
                           " at bucket ", key.bucket_start_sec));
        }
        entry.bucket = absl::FromUnixSeconds(key.bucket_start_sec);
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

absl::Status RocksStore::EnforceRetention(absl::Time now) {
  struct Expired {
    Family family;
    std::string begin;
    std::string end;
  };
  std::vector<Expired> expired;
  {
    absl::MutexLock lock(&retention_mu_);
    std::array<uint64_t, 3> cutoff_sec = retained_from_sec_;
    rocksdb::WriteBatch write;
    for (Tier tier : kTiers) {
      const int i = static_cast<int>(tier);
      cutoff_sec[i] = RetentionCutoffSec(tier, now);
      if (cutoff_sec[i] <= retained_from_sec_[i]) continue;
      // After a restart (retained_from_sec_ 0), from the very first key.
      Expired range;
      range.family = TierFamily(tier);
      if (tier == Tier::kRaw) {
        range.begin =
            retained_from_sec_[i] == 0
                ? std::string()
                : RawTimeBound(retained_from_sec_[i] * kNanosPerSecond);
        range.end = RawTimeBound(cutoff_sec[i] * kNanosPerSecond);
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
  std::vector<rocksdb::ColumnFamilyHandle*> families(
      handles_.begin(), handles_.begin() + kFamilyCount);
  return FromRocksDb(db_->Flush(rocksdb::FlushOptions(), families),
                     "flushing memtables");
}

absl::Status RocksStore::Compact() {
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

}  // namespace weir::store
