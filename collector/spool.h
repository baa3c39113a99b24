// The collector's durable on-disk spool of FlowBatches.
//
// Every batch drained from the kernel is appended here before it is offered
// to the shipper, and released once queryd acknowledges it, so a collector
// that dies, or a queryd that is away, loses nothing: a new collector process
// opens the spool and finds every batch not known to be acknowledged, under
// its original (node, epoch, seq), in order, and sends it again; queryd's
// dedupe makes a resent batch harmless.
//
// On disk: a directory of segment files ("<first index>.wspool", 20 digits),
// each a run of records, and a small ACKED file. A record is a 40-byte header
// -- magic, payload length, the record's index (1, 2, ... across segments
// and processes), the index through which earlier records were dropped at
// the bound, the append time, a CRC-32C of the payload and a CRC-32C of the
// header -- followed by the serialized FlowBatch. docs/spool.md has the
// layout, the recovery rules and why each step comes in the order it does.
//
// Recovery at Open:
//  - A record is taken only when its magic, header CRC, length and payload
//    CRC all hold; garbage is never parsed as a batch.
//  - Invalid bytes at the end of the last segment are a torn tail: the
//    record being written when the process died. Its Append never returned,
//    so its counts are still with the caller (the kernel slot); it is counted
//    (torn_tails), cut off the file, and not replayed.
//  - Invalid bytes anywhere else are corruption: the scan resynchronises on
//    the next valid record (magic + header CRC + payload CRC) and the records
//    lost are counted exactly from the gap in record indices
//    (corrupted_records). Their traffic is gone unnamed: that is what the
//    counter is for.
//
// Release: Ack(epoch, seq) releases every pending record up to and including
// that batch. The ack position is written (not fsynced) to ACKED; whole
// segments go as soon as every record in them is released. A lost or stale
// ACKED only makes a restart resend more, and never more than the records of
// one segment (the older ones were deleted): queryd drops them as
// duplicates.
//
// Bounds: before a record is written, whole segments go, oldest first, while
// the spool would exceed max_bytes or while a segment's newest record is older
// than max_age. The traffic of their unacknowledged batches -- packets and
// bytes seen, their own losses, and their exported traffic as
// LOSS_REASON_SPOOL_FULL -- is folded into the batch being appended, and the
// record says through which index it replaces them, so dropping and carrying
// are one durable step: after a crash either both happened or neither.
//
// Thread-safe: the drain thread appends while the shipper's ack reader acks.
#ifndef WEIR_COLLECTOR_SPOOL_H_
#define WEIR_COLLECTOR_SPOOL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "weir/v1/ingest.pb.h"

namespace weir::collector {

// When an appended record is forced to disk (fdatasync).
enum class FsyncPolicy {
  // Before Append returns: a batch that Append accepted survives a machine
  // crash, so its kernel slot may be cleared. The default.
  kAlways,
  // At most once per fsync_interval (on Append, or by Sync()): a machine
  // crash may lose the batches of the last interval, a process crash none.
  kInterval,
  // Never; the page cache decides. A process crash loses nothing, a machine
  // crash may lose anything not yet written back.
  kNever,
};

// "always", "interval" or "never" (the --spool-fsync flag's values).
absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text);
absl::string_view FsyncPolicyName(FsyncPolicy policy);

struct SpoolOptions {
  // Created if missing (its parent must exist). One spool per directory: a
  // second Open of the same directory fails while the first is open.
  std::string directory;
  // A segment is closed and a new one started when a record would take it
  // past this size (a single larger record gets a segment of its own).
  uint64_t segment_bytes = 4 << 20;
  // Segment files stay within this many bytes; must be at least two
  // segments. Past it the oldest segments go (LOSS_REASON_SPOOL_FULL).
  uint64_t max_bytes = uint64_t{1} << 30;
  // Segments whose newest record is older than this go
  // (LOSS_REASON_SPOOL_FULL); absl::InfiniteDuration() for no age bound.
  absl::Duration max_age = absl::Hours(24);
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  absl::Duration fsync_interval = absl::Seconds(1);
  // Time of appends and of the age bound.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

struct BatchId {
  uint64_t epoch = 0;
  uint64_t seq = 0;
  friend bool operator==(const BatchId& a, const BatchId& b) {
    return a.epoch == b.epoch && a.seq == b.seq;
  }
};

struct SpoolStats {
  uint64_t bytes = 0;     // in segment files
  uint64_t segments = 0;  // segment files
  uint64_t pending_batches = 0;
  uint64_t pending_bytes = 0;  // records not yet released, headers included
  // Age of the oldest pending batch (zero when none).
  absl::Duration oldest_pending_age;
  uint64_t appended_batches = 0;
  uint64_t acked_batches = 0;
  uint64_t fsyncs = 0;
  // Found at Open.
  uint64_t replayed_batches = 0;   // pending records found
  uint64_t torn_tails = 0;         // 0 or 1: an unfinished last record
  uint64_t torn_bytes = 0;         // cut off the last segment
  uint64_t corrupted_records = 0;  // lost in the middle, by index gap
  uint64_t corrupted_bytes = 0;    // skipped, not counting a torn tail
  // Batches the spool let go under LOSS_REASON_SPOOL_FULL: dropped at the
  // bounds or refused by a failed write, and their exported traffic.
  uint64_t spool_full_batches = 0;
  uint64_t spool_full_packets = 0;
  uint64_t spool_full_bytes = 0;
  // Appends refused: the disk failed (e.g. ENOSPC) or the batch alone
  // exceeds max_bytes.
  uint64_t refused_batches = 0;
  // Accounting of refused batches not yet folded into an appended batch.
  uint64_t carried_packets_seen = 0;
};

class Spool {
 public:
  // Opens (or creates) the spool in options.directory and recovers it: the
  // pending records are those after the released position, in order; a torn
  // tail is cut off. New records go to a new segment.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(SpoolOptions options);
  ~Spool();

  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends `batch` durably (per the fsync policy) and makes it pending.
  //
  // First folds into `batch->counters` the accounting of earlier batches
  // the spool let go (see the header comment), then makes room at the
  // bounds, which may fold more; on success `*batch` is exactly what was
  // written and what must be offered to the shipper. Batches dropped to make
  // room are appended to `dropped` (when not null) so the caller can forget
  // them too: a dropped batch that is sent anyway would be counted twice.
  //
  // On failure (e.g. RESOURCE_EXHAUSTED for a full disk) nothing of the
  // record stays on disk, `*batch` is unchanged and must not be shipped: its
  // traffic -- seen, losses, and exported as LOSS_REASON_SPOOL_FULL -- is
  // carried into the next batch appended.
  absl::Status Append(weir::v1::FlowBatch* batch,
                      std::vector<BatchId>* dropped = nullptr);

  // Releases every pending record up to and including batch (epoch, seq),
  // in append order, and returns how many. An id that is not pending
  // releases nothing and returns 0 (e.g. an ack for a batch dropped at the
  // bound). Also for batches the shipper gives up on (refused as malformed):
  // their accounting is then the shipper's. The in-memory release holds even
  // when persisting it fails; the error only means a restart resends more.
  absl::StatusOr<size_t> Ack(uint64_t epoch, uint64_t seq);

  // Reads every pending record, in order, and hands it to `fn`; stops at the
  // first error `fn` returns. Used once after Open to resend what a previous
  // process left. A record released meanwhile is skipped; one that no
  // longer reads back intact is skipped and counted corrupted.
  absl::Status ForEachPending(
      const std::function<absl::Status(weir::v1::FlowBatch)>& fn);

  // The pending batches' ids, in order.
  std::vector<BatchId> PendingIds() const;

  // Forces appended records to disk now (the interval policy's timer).
  absl::Status Sync();

  SpoolStats stats() const;

  // The kernel_generation of the newest record on disk, pending or
  // released, as found at Open and then as appended; nothing when there is
  // no record or the newest carries none. A record stays readable until the
  // next process opens the spool (the active segment is never trimmed), so
  // a collector that died between spooling a batch and clearing its kernel
  // slot can tell that slot was spooled (docs/spool.md).
  std::optional<uint32_t> newest_kernel_generation() const;

 private:
  struct Segment {
    uint64_t name_index = 0;  // the index it was created for
    std::string path;
    uint64_t bytes = 0;
    uint64_t last_index = 0;  // of its last valid record; 0 when none
    absl::Time newest = absl::InfinitePast();
  };
  struct Pending {
    uint64_t index = 0;
    BatchId id;
    uint64_t segment = 0;  // name_index
    uint64_t offset = 0;   // of the record header
    uint32_t payload_bytes = 0;
    absl::Time appended;
    weir::v1::Counters counters;
  };

  explicit Spool(SpoolOptions options);

  absl::Status Recover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Chooses the oldest segments to drop so that a record of
  // `record_bytes` fits the bounds; returns how many segments from the front.
  size_t SegmentsToDropLocked(uint64_t record_bytes, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StartSegmentLocked(uint64_t name_index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseActiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the segments at the front all of whose records are released
  // (the active one only when asked).
  void TrimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteAckFileLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CarryLocked(const weir::v1::Counters& counters)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpoolOptions options_;

  mutable absl::Mutex mu_;
  int lock_fd_ = -1;
  int ack_fd_ ABSL_GUARDED_BY(mu_) = -1;
  // Segments in index order; the last is the active one when active_fd_ is
  // open.
  std::deque<Segment> segments_ ABSL_GUARDED_BY(mu_);
  int active_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool unsynced_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_sync_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 1;
  // Every record with an index up to this is acknowledged or dropped.
  uint64_t released_through_ ABSL_GUARDED_BY(mu_) = 0;
  // Of those, the ones dropped at the bounds (recorded in each record).
  uint64_t dropped_through_ ABSL_GUARDED_BY(mu_) = 0;
  // Accounting of refused batches, for the next batch appended.
  weir::v1::Counters carried_ ABSL_GUARDED_BY(mu_);
  SpoolStats stats_ ABSL_GUARDED_BY(mu_);
  std::optional<uint32_t> newest_kernel_generation_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_SPOOL_H_
