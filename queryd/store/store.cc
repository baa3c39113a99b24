// The store's write path and retention, over its components. Read
// bottom-up: codecs (key_codec, value_codec, rollup_block), the rollup
// buffer and its derived views, the database (rocks_db), the node
// registry, format upgrades and the rollup flusher, the reader and crash
// recovery, the hour closer, and this file.
//
// Lock order. Every lock of the store, in the only order in which one may
// be taken while holding another (any lock may be taken alone):
//
//   1. HourCloser::mu_            one closes hours at a time
//   2. RollupFlusher::mu()        held across a whole flush of the buffer
//   3. TierBounds::retention_mu   writers shared; EnforceRetention and
//                                 closing an hour exclusive
//   4. NodeRegistry::mu_          the node map and the names by id
//   5. NodeEntry::mu              one per node: its writers, its state, its
//                                 share of the buffer
//   6. leaves, holding which nothing else is taken:
//      RollupFlusher::leftover_mu_, StoreReader::summed_mu_, and
//      RollupFlusher::thread_mu_ (the flusher thread releases it before
//      it flushes or closes hours)
//
// A writer takes 4 alone (FindOrAdd), then 3 shared, then its node's 5. A
// flush takes 2, 3 shared, then 4 (released) and each node's 5 in turn.
// Closing hours takes 1, then 2 and 3 exclusive, releasing both before it
// sums. Retention closes hours first (1, 2, 3, all released), then takes 2
// and 3 exclusive. Reads of rollups flush (2, 3) or close hours first, then
// read with no lock held; ScanRaw takes 3 shared to read raw's cutoff, and
// 4 for the names.

#include "queryd/store/store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/saturating.h"
#include "common/status_macros.h"
#include "queryd/store/batch_validator.h"
#include "queryd/store/derived_views.h"
#include "queryd/store/format_upgrade.h"
#include "queryd/store/hour_closer.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/node_admission.h"
#include "queryd/store/node_registry.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/rollup_flusher.h"
#include "queryd/store/rollup_recovery.h"
#include "queryd/store/store_reader.h"
#include "queryd/store/tier_bounds.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/convenience.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"

namespace weir::store {
namespace {

constexpr uint64_t kNanosPerSecond = 1000000000;
static_assert(Store::kMaxSummedBuckets == StoreReader::kMaxSummedBuckets);

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
  std::vector<NodeInfo> GetNodes() const override { return nodes_.Nodes(); }
  uint64_t ApproximateSize() const override { return db_->ApproximateSize(); }
  Memory MemoryUsage() const override {
    return {db_->MemtableBytes(), db_->BlockCacheBytes()};
  }
  absl::Status EnforceRetention(absl::Time now) override;
  absl::Status FlushRollups() const override { return flusher_.Flush(); }
  absl::Status Flush() override;
  absl::Status Compact() override;
  const StoreOptions& options() const override { return options_; }
  WriteState GetWriteState() const override;
  std::vector<uint64_t> WriteErrors() const override;
  absl::Status Resume() override;
  absl::StatusOr<absl::Time> HourTierEnd(const TimeRange& range,
                                         absl::Time now) const override {
    return closer_.HourTierEnd(range, now);
  }

 private:
  RocksStore(StoreOptions options, std::unique_ptr<RocksDb> db);

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
      ABSL_SHARED_LOCKS_REQUIRED(bounds_.retention_mu);
  // Cutoffs for a write received at `received_at`: each tier's retention,
  // and nothing retention has deleted; m1's no later than the hour tier's
  // merge end, as m1 keeps every hour h1 does not hold yet (until
  // retention closes it).
  Cutoffs WriteCutoffs(absl::Time received_at) const
      ABSL_SHARED_LOCKS_REQUIRED(bounds_.retention_mu);
  // After the batch is on disk: its rollups that AddBatch left out, into
  // the node's buffer.
  void BufferBatch(const weir::v1::FlowBatch& batch,
                   const std::vector<FlowRecord>& flows, uint32_t node_id,
                   uint64_t batch_number, const Cutoffs& cutoff_sec,
                   RollupBuffer* buffer) const;
  // The flusher thread's work: close the hours the stored flows have
  // passed, or write the buffer out when it is due or `wanted`. A failure
  // keeps the sums for the next flush, and the next rollup read reports
  // it; hours left open close later.
  void FlusherTick(bool wanted);

  // A write that failed (counted by cause) or went through.
  void WriteFailed(const absl::Status& status, bool count);
  void WriteSucceeded();

  const StoreOptions options_;
  // The last write's failure, until a write or Resume succeeds (a leaf
  // lock). write_failed_ says whether it is set, for writers to read
  // without the lock.
  mutable absl::Mutex write_mu_;
  absl::Status write_error_ ABSL_GUARDED_BY(write_mu_);
  std::atomic<bool> write_failed_{false};
  std::atomic<uint64_t> write_errors_[WriteState::kCauses] = {};
  // Components, each over the ones before it; destroyed in reverse.
  const std::unique_ptr<RocksDb> db_;
  NodeRegistry nodes_;
  TierBounds bounds_;
  mutable RollupFlusher flusher_;
  StoreReader reader_;
  mutable HourCloser closer_;
};

RocksStore::RocksStore(StoreOptions options, std::unique_ptr<RocksDb> db)
    : options_(std::move(options)),
      db_(std::move(db)),
      flusher_(*db_, nodes_, bounds_, options_.rollup_buffer_keys,
               options_.rollup_flush_interval),
      reader_(*db_, nodes_),
      closer_(*db_, reader_, flusher_, bounds_, kHourCloseDelay) {}

RocksStore::~RocksStore() {
  flusher_.Stop();
  // Written out now, and the memtables with it (rollup writes skip the
  // WAL), so the next open has nothing to recover; if this fails the
  // pending records still let it. Not while RocksDB has stopped writes:
  // after some errors (a WAL it could not create) switching memtables
  // again fails an assertion of RocksDB's and aborts, and every acked batch
  // is in the WAL anyway.
  if (db_->BackgroundError().ok()) Flush().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Store>> RocksStore::Open(
    const StoreOptions& options) {
  WEIR_RETURN_IF_ERROR(ValidateOptions(options));
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
  absl::StatusOr<std::unique_ptr<RocksDb>> db =
      RocksDb::Open(dir, options.block_cache_bytes, options.sync_writes);
  if (!db.ok()) return db.status();
  std::unique_ptr<RocksStore> store(new RocksStore(options, std::move(*db)));
  RocksDb& rocks = *store->db_;

  WEIR_RETURN_IF_ERROR(
      UpgradeFormat(rocks, dir, stored_version, options.progress));
  WEIR_ASSIGN_OR_RETURN(uint64_t hour_end_sec,
                        ReadHourTierEnd(rocks, dir, versioned, stored_version));
  store->bounds_.hour_end_sec = hour_end_sec;
  store->bounds_.merge_end_sec = hour_end_sec;
  WEIR_RETURN_IF_ERROR(WriteFormatRecords(rocks, dir, hour_end_sec));
  WEIR_RETURN_IF_ERROR(store->closer_.ClearOpenHours());
  WEIR_RETURN_IF_ERROR(store->nodes_.Load(rocks));
  // Retention as of the last batch stored: what the writes themselves went
  // by (their cutoffs only grow with received_at). Retention at the real
  // time of this open is EnforceRetention's job.
  Cutoffs cutoff_sec;
  {
    absl::ReaderMutexLock lock(&store->bounds_.retention_mu);
    cutoff_sec = store->WriteCutoffs(absl::FromUnixNanos(
        static_cast<int64_t>(store->nodes_.LastReceivedNs())));
  }
  WEIR_RETURN_IF_ERROR(RecoverRollups(rocks, store->nodes_, cutoff_sec,
                                      store->bounds_.merge_end_sec.load(),
                                      options.progress));
  if (options.rollup_buffer_keys > 0) {
    RocksStore* started = store.get();
    store->flusher_.Start(
        [started](bool wanted) { started->FlusherTick(wanted); });
  }
  return std::unique_ptr<Store>(std::move(store));
}

void RocksStore::FlusherTick(bool wanted) {
  // Hours the stored flows have passed close here, off the writers' way.
  if (closer_.Due()) {
    closer_.CloseHoursPassed().IgnoreError();
  } else if (wanted || flusher_.IsDue()) {
    flusher_.Flush().IgnoreError();
  }
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
      if (flusher_.IsOverfull()) {
        // The flusher is behind: this writer waits for a flush of its own
        // (after every lock of the write is released: the flush takes
        // the flusher's lock first), so memory stays bounded.
        if (absl::Status s = FlushRollups(); !s.ok()) {
          // The run is stored; the write of its rollups failed, so its
          // last result says so (the sums stay in the buffer).
          results.back() = s;
          break;
        }
      } else if (flusher_.IsDue() || closer_.Due()) {
        flusher_.Wake();
      }
    } else if (closer_.Due()) {
      // No flusher: this writer closes the hours its flows have passed.
      if (absl::Status s = closer_.CloseHoursPassed(); !s.ok()) {
        results.back() = s;
        break;
      }
    }
    if (results.size() < end || !results.back().ok()) break;
    start = end;
  }
  if (!results.empty() && !results.back().ok() &&
      results.back().status().code() != absl::StatusCode::kInvalidArgument) {
    WriteFailed(results.back().status(), /*count=*/true);
  } else if (std::any_of(results.begin(), results.end(), [](const auto& r) {
               return r.ok() && r->outcome == IngestResult::Outcome::kStored;
             })) {
    WriteSucceeded();
  }
  return results;
}

void RocksStore::WriteFailed(const absl::Status& status, bool count) {
  if (count) {
    write_errors_[static_cast<int>(WriteState::CauseOf(status))].fetch_add(
        1, std::memory_order_relaxed);
  }
  absl::MutexLock lock(&write_mu_);
  write_error_ = status;
  write_failed_ = true;
}

void RocksStore::WriteSucceeded() {
  if (!write_failed_.load()) return;
  absl::MutexLock lock(&write_mu_);
  write_error_ = absl::OkStatus();
  write_failed_ = false;
}

WriteState RocksStore::GetWriteState() const {
  absl::Status error = db_->BackgroundError();
  if (error.ok()) {
    absl::MutexLock lock(&write_mu_);
    error = write_error_;
  }
  WriteState state;
  state.cause = WriteState::CauseOf(error);
  if (!error.ok()) state.message = std::string{error.message()};
  return state;
}

std::vector<uint64_t> RocksStore::WriteErrors() const {
  std::vector<uint64_t> counts;
  for (const std::atomic<uint64_t>& count : write_errors_) {
    counts.push_back(count.load(std::memory_order_relaxed));
  }
  return counts;
}

absl::Status RocksStore::Resume() {
  if (GetWriteState().writable()) return absl::OkStatus();
  WEIR_RETURN_IF_ERROR(db_->Resume());
  // RocksDB may take writes again and still fail the next one (the cause
  // of a failed write need not have stopped RocksDB at all): a synced write
  // of a deletion nothing reads says whether a batch would be stored now.
  rocksdb::WriteBatch probe;
  probe.Delete(db_->cf(Family::kMeta), "write-probe");
  if (absl::Status s = db_->Write(&probe, "probing the store with a write");
      !s.ok()) {
    WriteFailed(s, /*count=*/false);
    return s;
  }
  {
    absl::MutexLock lock(&write_mu_);
    write_error_ = absl::OkStatus();
    write_failed_ = false;
  }
  // Sums a failed flush kept go out now rather than at the next tick.
  if (options_.rollup_buffer_keys > 0) flusher_.Wake();
  return absl::OkStatus();
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
  NodeEntry* node = nodes_.FindOrAdd(run[0]->node());
  // Shared before the node's mutex: a rollup flush takes them in that
  // order too.
  absl::ReaderMutexLock retention_lock(&bounds_.retention_mu);
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
    SaturatingAddTo(next.flows, result.flows);
  }
  if (writes) {
    std::string state;
    AppendNodeState(next, &state);
    write.Put(db_->cf(Family::kNodes), node->name, state);
    const weir::v1::FlowBatch& first = *run[0];
    const weir::v1::FlowBatch& last = *run[valid - 1];
    const std::string batches =
        valid == 1 ? absl::StrCat("batch (epoch ", first.epoch(), ", seq ",
                                  first.seq(), ")")
                   : absl::StrCat(valid, " batches (epoch ", first.epoch(),
                                  ", seq ", first.seq(), " to epoch ",
                                  last.epoch(), ", seq ", last.seq(), ")");
    if (absl::Status s = db_->Write(
            &write,
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
    closer_.Stored(newest);
  }
  for (size_t i = 0; i < valid; ++i) {
    IngestResult& result = written[i].result;
    if (result.outcome == IngestResult::Outcome::kStored &&
        options_.rollup_buffer_keys > 0) {
      const size_t before = node->buffer.size();
      BufferBatch(*run[i], result.records, node->id, written[i].batch_number,
                  written[i].cutoff_sec, &node->buffer);
      flusher_.Buffered(node->buffer.size() - before);
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
    out->Put(db_->cf(Family::kRaw), raw_key,
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
    out->Put(db_->cf(Family::kPending), key, value);
  } else {
    AddCounterRollups(pending.counters, batch.interval_start_unix_nano(),
                      node_id, *cutoff_sec, &direct.counters);
  }
  DerivedViews views;
  AppendRollups(*db_, {&direct}, *cutoff_sec, bounds_.merge_end_sec.load(),
                &views, out);
  return stored;
}

Cutoffs RocksStore::WriteCutoffs(absl::Time received_at) const {
  // Nothing goes below a tier's retention cutoff: it would never be read,
  // and retention has already passed it.
  Cutoffs cutoff_sec;
  for (Tier tier : kTiers) {
    const int i = static_cast<int>(tier);
    cutoff_sec[i] = std::max(RetentionCutoffSec(tier, received_at),
                             bounds_.retained_from_sec[i]);
  }
  // A flow of an hour h1 does not hold yet goes to m1 even when m1's
  // retention has passed it: h1 gets it from there when the hour closes
  // (EnforceRetention closes it before deleting any of its minutes).
  uint64_t& minute = cutoff_sec[static_cast<int>(Tier::kMinute)];
  minute = std::min(minute, bounds_.merge_end_sec.load());
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

absl::Status RocksStore::ScanRaw(const RawScan& scan, RawVisitor visit) const {
  uint64_t retained_from_ns = 0;
  {
    absl::ReaderMutexLock lock(&bounds_.retention_mu);
    retained_from_ns = bounds_.retained_from_sec[static_cast<int>(Tier::kRaw)] *
                       kNanosPerSecond;
  }
  return reader_.ScanRaw(scan.range, scan.newest_first, scan.cursor,
                         retained_from_ns, visit);
}

absl::Status RocksStore::ScanRollup(Tier tier, View view,
                                    const TimeRange& range,
                                    RollupVisitor visit) const {
  WEIR_RETURN_IF_ERROR(CheckFlowView(tier, view));
  // Everything acked before this read is in the answer.
  WEIR_RETURN_IF_ERROR(closer_.ReadyToRead(tier, range));
  return reader_.ScanRollup(tier, view, range, visit);
}

absl::Status RocksStore::SumRollup(Tier tier, View view, const TimeRange& range,
                                   RollupVisitor visit) const {
  WEIR_RETURN_IF_ERROR(CheckFlowView(tier, view));
  // Everything acked before this read is in the answer.
  WEIR_RETURN_IF_ERROR(closer_.ReadyToRead(tier, range));
  return reader_.SumRollup(tier, view, range, visit);
}

absl::Status RocksStore::LookupRollup(Tier tier, View view,
                                      const TimeRange& range,
                                      absl::Span<const RollupEntry> keys,
                                      RollupVisitor visit) const {
  WEIR_RETURN_IF_ERROR(CheckFlowView(tier, view));
  WEIR_RETURN_IF_ERROR(closer_.ReadyToRead(tier, range));
  return reader_.LookupRollup(tier, view, range, keys, visit);
}

absl::Status RocksStore::ScanNodeCounters(Tier tier, const TimeRange& range,
                                          CountersVisitor visit) const {
  WEIR_RETURN_IF_ERROR(flusher_.Flush());
  return reader_.ScanNodeCounters(tier, range, visit);
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
      end_sec > bounds_.hour_end_sec.load()) {
    bool summed = false;
    WEIR_RETURN_IF_ERROR(closer_.CloseHours(end_sec, end_sec, &summed));
    if (summed) {
      WEIR_RETURN_IF_ERROR(db_->FlushMemtables());
    }
  }
  {
    absl::MutexLock flush_lock(&flusher_.mu());
    absl::MutexLock lock(&bounds_.retention_mu);
    // The buffer goes out first: its pending batches' raw flows must still
    // be there for a recovery until their rollups are written.
    WEIR_RETURN_IF_ERROR(flusher_.FlushLocked());
    Cutoffs cutoff_sec = bounds_.retained_from_sec;
    rocksdb::WriteBatch write;
    for (Tier tier : kTiers) {
      const int i = static_cast<int>(tier);
      cutoff_sec[i] = RetentionCutoffSec(tier, now);
      if (cutoff_sec[i] <= bounds_.retained_from_sec[i]) continue;
      // After a restart (bounds_.retained_from_sec 0), from the very first key.
      Expired range;
      range.family = TierFamily(tier);
      if (tier == Tier::kRaw) {
        // Whole raw buckets only: one that straddles the cutoff stays until
        // it is wholly past (ScanRaw hides what it holds before the
        // cutoff).
        range.begin =
            bounds_.retained_from_sec[i] == 0
                ? std::string()
                : RawTimeBound(RawBucketStart(bounds_.retained_from_sec[i] *
                                              kNanosPerSecond));
        range.end =
            RawTimeBound(RawBucketStart(cutoff_sec[i] * kNanosPerSecond));
      } else {
        range.begin = bounds_.retained_from_sec[i] == 0
                          ? std::string()
                          : BucketPrefix(bounds_.retained_from_sec[i]);
        range.end = BucketPrefix(cutoff_sec[i]);
      }
      write.DeleteRange(db_->cf(range.family), range.begin, range.end);
      expired.push_back(std::move(range));
    }
    if (expired.empty()) return absl::OkStatus();
    const uint64_t raw_end_ns = RawBucketStart(
        cutoff_sec[static_cast<int>(Tier::kRaw)] * kNanosPerSecond);
    if (flusher_.unlogged_raw_from_ns() < raw_end_ns) {
      // Such rollups reach disk before the raw flows a recovery of them
      // would read are deleted. Rare: about once per raw retention, as the
      // bound is kept from one such flush to the next, or for a late batch
      // near raw's cutoff. Ingest waits meanwhile (retention_mu).
      WEIR_RETURN_IF_ERROR(db_->FlushMemtables());
      flusher_.ClearUnlogged();
    }
    WEIR_RETURN_IF_ERROR(db_->Write(&write, "deleting expired buckets"));
    bounds_.retained_from_sec = cutoff_sec;
  }
  // The data is already deleted; dropping whole SST files in the range
  // returns the space now instead of at the next compaction.
  for (const Expired& range : expired) {
    const rocksdb::Slice begin(range.begin);
    const rocksdb::Slice end(range.end);
    WEIR_RETURN_IF_ERROR(FromRocksDb(
        rocksdb::DeleteFilesInRange(db_->db(), db_->cf(range.family), &begin,
                                    &end, /*include_end=*/false),
        absl::StrCat("dropping expired files of ", FamilyName(range.family))));
  }
  return absl::OkStatus();
}

absl::Status RocksStore::Flush() {
  WEIR_RETURN_IF_ERROR(flusher_.Flush());
  return db_->FlushMemtables();
}

absl::Status RocksStore::Compact() {
  WEIR_RETURN_IF_ERROR(flusher_.Flush());
  return db_->Compact();
}

}  // namespace

WriteState::Cause WriteState::CauseOf(const absl::Status& status) {
  if (status.ok()) return Cause::kNone;
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    return Cause::kNoSpace;
  }
  if (absl::StrContains(status.message(), "Too many open files")) {
    return Cause::kNoDescriptors;
  }
  if (status.code() == absl::StatusCode::kUnavailable) return Cause::kIoError;
  return Cause::kOther;
}

absl::string_view CauseName(WriteState::Cause cause) {
  switch (cause) {
    case WriteState::Cause::kNone:
      return "ok";
    case WriteState::Cause::kNoSpace:
      return "disk_full";
    case WriteState::Cause::kNoDescriptors:
      return "out_of_descriptors";
    case WriteState::Cause::kIoError:
      return "io_error";
    case WriteState::Cause::kOther:
      break;
  }
  return "error";
}

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
