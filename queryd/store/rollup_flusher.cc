#include "queryd/store/rollup_flusher.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/value_codec.h"

namespace weir::store {
namespace {

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

}  // namespace

void AppendRollups(const RocksDb& db,
                   absl::Span<const RollupBuffer* const> sums,
                   const Cutoffs& cutoff_sec, uint64_t merge_end_sec,
                   DerivedViews* views, rocksdb::WriteBatch* out) {
  CounterSums counters;
  for (const RollupBuffer* buffer : sums) {
    views->Add(buffer->minute, Tier::kMinute);
    views->Add(buffer->hour_only, Tier::kHour);
    counters.AddAll(buffer->counters);
  }
  views->Append(cutoff_sec, merge_end_sec,
                [&](Tier tier, absl::string_view key, absl::string_view block) {
                  out->Merge(db.cf(TierFamily(tier)),
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
      out->Merge(db.cf(TierFamily(tier)), entry->first, value);
    }
  }
}

absl::Status WriteBuffers(const RocksDb& db,
                          const std::vector<RollupBuffer>& buffers,
                          const Cutoffs& cutoff_sec, uint64_t merge_end_sec,
                          DerivedViews* views, bool logged) {
  // The merges and the deletion of their batches' pending records are one
  // atomic write. Unless `logged`, it skips the WAL: it lives in memtables
  // until a flush writes it out, with every family at once (atomic_flush).
  // A crash before that loses the whole write and nothing else that was
  // acked: the pending records it deleted come back from the WAL, and Open
  // redoes their rollups from raw (so retention must not delete that raw
  // first: RollupFlusher::unlogged_raw_from_ns). Skipping the WAL saves
  // writing every rollup block twice.
  rocksdb::WriteBatch write(views->last_write_bytes);
  std::vector<const RollupBuffer*> sums;
  for (const RollupBuffer& buffer : buffers) {
    sums.push_back(&buffer);
    for (const std::string& key : buffer.pending) {
      write.Delete(db.cf(Family::kPending), key);
    }
  }
  AppendRollups(db, sums, cutoff_sec, merge_end_sec, views, &write);
  views->last_write_bytes = write.GetDataSize();
  if (logged) return db.Write(&write, "writing the rollup buffer");
  return db.WriteUnlogged(&write, "writing the rollup buffer");
}

RollupFlusher::RollupFlusher(const RocksDb& db, const NodeRegistry& nodes,
                             TierBounds& bounds, size_t buffer_keys,
                             absl::Duration interval)
    : db_(db),
      nodes_(nodes),
      bounds_(bounds),
      buffer_keys_(buffer_keys),
      interval_(interval) {}

RollupFlusher::~RollupFlusher() { Stop(); }

void RollupFlusher::Buffered(size_t entries) {
  buffered_entries_ += entries;
  int64_t none = INT64_MAX;
  buffered_since_ns_.compare_exchange_strong(none,
                                             absl::ToUnixNanos(absl::Now()));
}

bool RollupFlusher::IsDue() const {
  if (buffered_entries_.load() >= buffer_keys_) return true;
  const int64_t since = buffered_since_ns_.load();
  return since != INT64_MAX &&
         absl::Now() - absl::FromUnixNanos(since) >= interval_;
}

bool RollupFlusher::IsOverfull() const {
  return buffered_entries_.load() >= 2 * buffer_keys_;
}

absl::Status RollupFlusher::Flush() {
  absl::MutexLock flush_lock(&mu_);
  absl::ReaderMutexLock retention_lock(&bounds_.retention_mu);
  return FlushLocked();
}

absl::Status RollupFlusher::FlushLocked() {
  std::vector<RollupBuffer> buffers;
  {
    absl::MutexLock lock(&leftover_mu_);
    buffers.swap(leftover_);
  }
  const std::vector<NodeEntry*> nodes = nodes_.Entries();
  buffered_entries_ = 0;
  buffered_since_ns_ = INT64_MAX;
  for (NodeEntry* node : nodes) {
    absl::MutexLock lock(&node->mu);
    if (node->buffer.pending.empty()) continue;
    buffers.push_back(std::exchange(node->buffer, RollupBuffer()));
    node->buffer.minute.ReserveLike(buffers.back().minute);
  }
  if (buffers.empty()) return absl::OkStatus();
  absl::Status s =
      WriteBuffers(db_, buffers, bounds_.retained_from_sec,
                   bounds_.merge_end_sec.load(), &views_, /*logged=*/false);
  if (s.ok()) {
    for (const RollupBuffer& buffer : buffers) {
      unlogged_raw_from_ns_ =
          std::min(unlogged_raw_from_ns_, buffer.raw_from_ns);
    }
  } else {
    absl::MutexLock lock(&leftover_mu_);
    for (RollupBuffer& buffer : buffers) leftover_.push_back(std::move(buffer));
    int64_t none = INT64_MAX;
    buffered_since_ns_.compare_exchange_strong(none,
                                               absl::ToUnixNanos(absl::Now()));
  }
  return s;
}

void RollupFlusher::Start(std::function<void(bool wanted)> tick) {
  tick_ = std::move(tick);
  thread_ = std::thread([this] { Run(); });
}

void RollupFlusher::Wake() {
  absl::MutexLock lock(&thread_mu_);
  wanted_ = true;
}

void RollupFlusher::Stop() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&thread_mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RollupFlusher::Run() {
  absl::MutexLock lock(&thread_mu_);
  while (!stopping_) {
    // Wakes when a writer finds the buffer due, and at least every flush
    // interval, so a buffer that stopped growing still goes out in time.
    thread_mu_.AwaitWithTimeout(
        absl::Condition(
            +[](RollupFlusher* flusher)
                 ABSL_EXCLUSIVE_LOCKS_REQUIRED(flusher->thread_mu_) {
                   return flusher->wanted_ || flusher->stopping_;
                 },
            this),
        interval_);
    if (stopping_) break;
    const bool wanted = std::exchange(wanted_, false);
    thread_mu_.Unlock();
    tick_(wanted);
    thread_mu_.Lock();
  }
}

}  // namespace weir::store
