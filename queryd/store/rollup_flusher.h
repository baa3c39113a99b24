// Writing the rollup buffer out (StoreOptions::rollup_buffer_keys): the
// per-node buffers (node_registry.h) are taken, their views derived
// (derived_views.h) and merged into m1 and h1 together with the deletion of
// their batches' pending records, in one write that skips the WAL; and the
// thread that does it when the buffer is due.

#ifndef WEIR_QUERYD_STORE_ROLLUP_FLUSHER_H_
#define WEIR_QUERYD_STORE_ROLLUP_FLUSHER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "queryd/store/derived_views.h"
#include "queryd/store/node_registry.h"
#include "queryd/store/rocks_db.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/tier_bounds.h"
#include "rocksdb/write_batch.h"

namespace weir::store {

// Merges of the sums of `sums` into m1 and h1 (blocks of every view of both
// tiers, and node counters) into `out`, leaving out buckets before the
// cutoffs; minutes at or after `merge_end_sec` go to m1 only.
void AppendRollups(const RocksDb& db,
                   absl::Span<const RollupBuffer* const> sums,
                   const Cutoffs& cutoff_sec, uint64_t merge_end_sec,
                   DerivedViews* views, rocksdb::WriteBatch* out);

// Writes buffers out: their merges (AppendRollups) and the deletion of their
// pending records in one write, to the WAL too if `logged`.
absl::Status WriteBuffers(const RocksDb& db,
                          const std::vector<RollupBuffer>& buffers,
                          const Cutoffs& cutoff_sec, uint64_t merge_end_sec,
                          DerivedViews* views, bool logged);

class RollupFlusher {
 public:
  // `buffer_keys` and `interval`: when the buffer is due
  // (StoreOptions::rollup_buffer_keys, rollup_flush_interval).
  RollupFlusher(const RocksDb& db, const NodeRegistry& nodes,
                TierBounds& bounds, size_t buffer_keys,
                absl::Duration interval);
  // Stops the thread (Stop).
  ~RollupFlusher();

  // Held across a whole flush (taking the buffers and writing them), so a
  // read that flushes first also waits for a flush already under way.
  // Taken before TierBounds::retention_mu.
  absl::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // A writer added `entries` to its node's buffer.
  void Buffered(size_t entries);
  // The buffer holds buffer_keys entries, or its oldest is interval old.
  bool IsDue() const;
  // The buffer holds twice buffer_keys: the flusher is behind, and writers
  // flush themselves so memory stays bounded.
  bool IsOverfull() const;

  // Writes every node's buffer out (mu(), then retention_mu shared).
  absl::Status Flush();
  // The same with both locks held. A failure keeps the buffers for the next
  // flush: nothing acked is dropped.
  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The earliest raw flow of a batch whose rollups went out without the
  // WAL and may not be on disk yet (UINT64_MAX for none): a recovery would
  // read it back, so retention writes the memtables out before deleting
  // it, then calls ClearUnlogged.
  uint64_t unlogged_raw_from_ns() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return unlogged_raw_from_ns_;
  }
  void ClearUnlogged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    unlogged_raw_from_ns_ = UINT64_MAX;
  }

  // Starts the thread: it calls tick(wanted) at least every interval, and
  // soon after Wake (wanted true), outside every lock of its own.
  void Start(std::function<void(bool wanted)> tick);
  void Wake();
  // Stops and joins the thread, if started.
  void Stop();

 private:
  void Run();

  const RocksDb& db_;
  const NodeRegistry& nodes_;
  TierBounds& bounds_;
  const size_t buffer_keys_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  // The flushes' working memory, kept from one to the next.
  DerivedViews views_ ABSL_GUARDED_BY(mu_);
  uint64_t unlogged_raw_from_ns_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  // Buffers a failed flush could not write, for the next one.
  absl::Mutex leftover_mu_;
  std::vector<RollupBuffer> leftover_ ABSL_GUARDED_BY(leftover_mu_);
  // Entries in all buffers since the last flush (a trigger, not exact), and
  // when the oldest arrived (ns since the Unix epoch; INT64_MAX for none).
  std::atomic<size_t> buffered_entries_{0};
  std::atomic<int64_t> buffered_since_ns_{INT64_MAX};

  // The thread and what wakes it.
  absl::Mutex thread_mu_;
  bool wanted_ ABSL_GUARDED_BY(thread_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::function<void(bool wanted)> tick_;
  std::thread thread_;
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROLLUP_FLUSHER_H_
