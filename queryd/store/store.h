// weir-queryd's storage: every flow batch, its rollups and the collectors'
// state, in one embedded RocksDB (docs/design.md §3, §4). This interface is
// the only way in: the query and ingest layers never see RocksDB types.
//
// Column families (schema.h): raw flows keyed by time, 1-minute (m1) and
// 1-hour (h1) rollups of reduced keys in sorted blocks (rollup_block.h)
// kept with a merge operator, per-node
// state (nodes) and the format version (meta). Key and value layouts are in
// key_codec.h and value_codec.h.

#ifndef WEIR_QUERYD_STORE_STORE_H_
#define WEIR_QUERYD_STORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "queryd/store/schema.h"
#include "queryd/store/store_types.h"
#include "queryd/store/tier_chooser.h"
#include "weir/v1/ingest.pb.h"

namespace weir::store {

struct StoreOptions {
  // Directory of the RocksDB database; created (with its parents) when
  // missing and create_if_missing is set.
  std::string data_dir;
  // How long each tier keeps its buckets (EnforceRetention).
  Retention retention;
  // LRU block cache shared by every column family.
  size_t block_cache_bytes = size_t{256} << 20;
  bool create_if_missing = true;
  // fsync the write-ahead log before WriteBatch returns, so an acked batch
  // survives a power loss. Without it the WAL is still written before
  // WriteBatch returns, which survives a crash of queryd but not of the
  // machine.
  bool sync_writes = true;
  // The rollup buffer. A stored batch's m1 and h1 totals are summed in
  // memory, across batches, and merged into RocksDB later, by a thread of
  // the store: when the buffer holds rollup_buffer_keys distinct keys or
  // its oldest sum is rollup_flush_interval old; and before every rollup
  // read, before retention and at close. Writers that find it at twice the
  // size flush it themselves. A batch is still durable
  // before WriteBatch returns: its raw flows, its node state and a pending
  // record (what recovery needs) are in the one synced write, and Open
  // redoes the rollups of pending batches from raw after a crash. Summing
  // first turns the ~14 entries per flow (7 views x 2 tiers) into one per
  // distinct key and flush, written as one block per bucket, view and
  // shard. 0 writes every batch's rollups with the batch.
  size_t rollup_buffer_keys = size_t{1} << 16;
  absl::Duration rollup_flush_interval = absl::Seconds(10);
  // Told, one line at a time, about the long steps of Open: converting a
  // directory of an older format version reads the whole store once. May
  // be empty.
  std::function<void(absl::string_view line)> progress;
};

// A page of raw flows.
struct RawScan {
  TimeRange range;
  // Newest first (ListFlows' order), or oldest first.
  bool newest_first = true;
  // The cursor of the last flow of the previous page: the scan resumes
  // strictly after it, in scan order. Empty for the first page. Opaque to
  // callers (it is the flow's raw key); one that is not a cursor is
  // INVALID_ARGUMENT.
  std::string cursor;
};

// Whether the store takes writes now and, when not, why. Causes are a fixed
// set (metrics label them); the message is the error as RocksDB gave it.
struct WriteState {
  enum class Cause { kNone, kNoSpace, kNoDescriptors, kIoError, kOther };
  static constexpr int kCauses = 5;

  bool writable() const { return cause == Cause::kNone; }
  Cause cause = Cause::kNone;
  std::string message;

  // The cause of a failed write's status (RESOURCE_EXHAUSTED: no space;
  // "Too many open files": no descriptors; UNAVAILABLE: another I/O
  // error). OK is kNone.
  static Cause CauseOf(const absl::Status& status);
};

// "ok", "disk_full", "out_of_descriptors", "io_error", "error".
absl::string_view CauseName(WriteState::Cause cause);

class Store {
 public:
  // Opens (or creates) the store in options.data_dir. FAILED_PRECONDITION
  // when the directory was written by a newer format version ("data
  // directory /x was written by format version 3; this weir-queryd reads up
  // to 1") or is not a Weir store; NOT_FOUND when it holds no store and
  // create_if_missing is false; INVALID_ARGUMENT for bad options.
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const StoreOptions& options);

  virtual ~Store() = default;

  // Validates the batch (batch_validator.h; INVALID_ARGUMENT, nothing
  // written), then stores it exactly once: in one durable RocksDB write, its
  // flows (raw), their totals in every view of m1 and h1 (merges, no
  // read-modify-write), its counters per node and bucket in m1 and h1, and
  // the node's new state (epoch, high-water seq, gaps, counters). Per node:
  // - (epoch, seq) at or below the high-water of the node's epoch: nothing
  //   is written, the result says kDuplicate;
  // - an older epoch: only the node's stale_batches count is written,
  //   the result says kStaleEpoch;
  // - a higher epoch restarts the high-water; seqs skipped (in the epoch,
  //   and seqs before the first one of a new epoch) add to the node's gaps.
  // Writers of one node are serialized, so check and write are atomic.
  // Flows and counters older than a tier's retention (at received_at) are
  // left out of that tier. received_at becomes the node's last_seen.
  absl::StatusOr<IngestResult> WriteBatch(const weir::v1::FlowBatch& batch,
                                          absl::Time received_at);
  absl::StatusOr<IngestResult> WriteBatch(const weir::v1::FlowBatch& batch) {
    return WriteBatch(batch, absl::Now());
  }

  // WriteBatch for several batches in order, with one durable write per run
  // of batches of one node (one WAL sync instead of one per batch: what a
  // collector sending ahead of its acks, or catching up after an outage,
  // is waiting for). One result per batch, up to and including the first
  // that fails; the batches after it are not looked at. A malformed batch
  // fails alone (the batches before it are stored); a failed write fails
  // the first batch of its run, and nothing of the run is stored.
  virtual std::vector<absl::StatusOr<IngestResult>> WriteBatches(
      absl::Span<const weir::v1::FlowBatch* const> batches,
      absl::Time received_at) = 0;

  // Flows whose last_seen lies in scan.range, in scan order, until `visit`
  // returns false. `cursor` resumes after that flow (RawScan::cursor) and is
  // valid only during the call.
  using RawVisitor =
      absl::FunctionRef<bool(const FlowRecord& flow, absl::string_view cursor)>;
  virtual absl::Status ScanRaw(const RawScan& scan, RawVisitor visit) const = 0;

  // Entries of one flow view of a rollup tier (kMinute or kHour) whose
  // bucket starts in range, bucket by bucket in time order, until `visit`
  // returns false. Within a bucket, entries come shard by shard (see
  // key_codec.h), in no order a caller may rely on. A read of h1 first
  // closes every hour of its range that m1 holds flows of (HourTierEnd), so
  // its answer, like m1's, includes every stored batch; so do SumRollup and
  // LookupRollup.
  using RollupVisitor = absl::FunctionRef<bool(const RollupEntry& entry)>;
  virtual absl::Status ScanRollup(Tier tier, View view, const TimeRange& range,
                                  RollupVisitor visit) const = 0;

  // Entries of one flow view of a rollup tier, summed per view key over
  // consecutive buckets starting in range: what ScanRollup visits, for
  // answers that need totals but not time (top talkers, ranking series).
  // Each view key comes once per run of up to kMaxSummedBuckets buckets (in
  // no order a caller may rely on), with `bucket` the run's first bucket; a
  // caller adds what it gets, as with ScanRollup. The buckets' blocks are
  // merged as the sorted runs they are on disk, so a key seen in every hour
  // of a day costs one visit instead of 24.
  static constexpr int kMaxSummedBuckets = 64;
  virtual absl::Status SumRollup(Tier tier, View view, const TimeRange& range,
                                 RollupVisitor visit) const = 0;

  // The entries of one flow view of a rollup tier with the keys of `keys`
  // (their view fields: addresses, protocol, port), in every bucket
  // starting in range: bucket by bucket in time order, those present only,
  // until `visit` returns false. One point read per key and bucket, for a
  // few keys over a long window (the points of the top series) instead of
  // a scan of every key. INVALID_ARGUMENT for kNode, whose keys hold node
  // ids.
  virtual absl::Status LookupRollup(Tier tier, View view,
                                    const TimeRange& range,
                                    absl::Span<const RollupEntry> keys,
                                    RollupVisitor visit) const = 0;

  // The nodes' counters (losses) of a rollup tier (kMinute or kHour), per
  // node and bucket starting in range. TierChoice::counters says which to
  // read for an answer.
  using CountersVisitor =
      absl::FunctionRef<bool(const NodeCountersEntry& entry)>;
  virtual absl::Status ScanNodeCounters(Tier tier, const TimeRange& range,
                                        CountersVisitor visit) const = 0;

  // Every node that has a stored batch, by name.
  virtual std::vector<NodeInfo> GetNodes() const = 0;

  // Bytes on disk (SST files) plus memtables, all column families.
  virtual uint64_t ApproximateSize() const = 0;

  // Memory the store holds: the memtables of every column family, and what
  // the block cache holds (at most StoreOptions::block_cache_bytes).
  struct Memory {
    uint64_t memtables = 0;
    uint64_t block_cache = 0;
  };
  virtual Memory MemoryUsage() const = 0;

  // Deletes, per tier, every bucket that ended before now - retention, with
  // DeleteRange (and drops whole SST files in that range). The daemon calls
  // it periodically, e.g. through RetentionTimer.
  virtual absl::Status EnforceRetention(absl::Time now) = 0;

  // Writes the rollup buffer out (StoreOptions::rollup_buffer_keys). Reads
  // of rollups do it themselves; for tests and shutdown.
  virtual absl::Status FlushRollups() const = 0;

  // Flushes the rollup buffer, then memtables to SST files.
  virtual absl::Status Flush() = 0;
  // Compacts every column family fully (merges are folded into values).
  // For tests and maintenance; slow on a big store.
  virtual absl::Status Compact() = 0;

  virtual const StoreOptions& options() const = 0;

  // Whether writes go through (docs/design.md §3, "Resource faults"): not
  // after a write failed, nor while RocksDB has stopped writes after a
  // background error, until Resume succeeds or a write does.
  virtual WriteState GetWriteState() const = 0;
  // Failed writes since open, by cause (indexed by WriteState::Cause; a
  // malformed batch is not a failed write).
  virtual std::vector<uint64_t> WriteErrors() const = 0;
  // Makes a store that cannot write take writes again once the cause is
  // gone: RocksDB's DB::Resume (which flushes the memtables and starts a
  // new WAL), then one synced probe write. OK when the store writes now;
  // otherwise the error, and the state stays. Safe to call at any time and
  // from any thread; quick when there is nothing to resume.
  virtual absl::Status Resume() = 0;

  // The hour tier's flow views are summed from m1 when an hour closes, not
  // merged into h1 with every rollup write (node counters still are): h1
  // holds only closed hours, and m1 keeps every hour h1 does not hold yet.
  // An hour closes once flows kHourCloseDelay past its end have been stored
  // (and that time has come), before retention deletes any of its minutes,
  // and when a read asks for it (ScanRollup, HourTierEnd). Flows that
  // arrive for a closed hour are merged into both tiers.
  static constexpr absl::Duration kHourCloseDelay = absl::Minutes(5);

  // Closes the hours inside `range` that ended kHourCloseDelay or more
  // before `now` (an earlier hour with flows in m1 closes with them), and
  // returns the hour tier's end: h1 holds every hour before it.
  virtual absl::StatusOr<absl::Time> HourTierEnd(const TimeRange& range,
                                                 absl::Time now) const = 0;

  // SeriesResolutions (tier_chooser.h) with this store's retention.
  std::vector<absl::Duration> SeriesResolutions(const TimeRange& range,
                                                absl::Time now,
                                                uint32_t dimensions) const {
    return weir::store::SeriesResolutions(range, now, dimensions,
                                          options().retention);
  }

  // ChooseTier (tier_chooser.h) with this store's retention and hour tier
  // end, after closing the hours of `range` that have ended (HourTierEnd).
  absl::StatusOr<TierChoice> ChooseTier(const TimeRange& range, absl::Time now,
                                        const QueryNeeds& needs) const {
    absl::StatusOr<absl::Time> hour_end = HourTierEnd(range, now);
    if (!hour_end.ok()) return hour_end.status();
    return weir::store::ChooseTier(range, now, needs, options().retention,
                                   *hour_end);
  }
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_STORE_H_
