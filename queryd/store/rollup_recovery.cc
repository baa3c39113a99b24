#include "queryd/store/rollup_recovery.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "queryd/store/derived_views.h"
#include "queryd/store/key_codec.h"
#include "queryd/store/rocksdb_status.h"
#include "queryd/store/rollup_buffer.h"
#include "queryd/store/rollup_flusher.h"
#include "queryd/store/value_codec.h"
#include "rocksdb/iterator.h"

namespace weir::store {

absl::Status RecoverRollups(
    const RocksDb& db, const NodeRegistry& nodes, const Cutoffs& cutoff_sec,
    uint64_t merge_end_sec,
    const std::function<void(absl::string_view line)>& progress) {
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
      db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(Family::kPending)));
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
  WEIR_RETURN_IF_ERROR(FromRocksDb(it->status(), "reading pending batches"));
  if (pending.empty()) return absl::OkStatus();
  const absl::Time started = absl::Now();
  if (progress) {
    progress(absl::StrCat(
        "rolling up ", pending.size(),
        " batches again from raw flows: the store was not closed cleanly "
        "and their rollups had not reached disk"));
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
    const RangeIterator raw(db, Family::kRaw, RawTimeBound(first),
                            RawTimeBound(last + 1));
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
    WEIR_RETURN_IF_ERROR(FromRocksDb(raw->status(), "reading raw flows back"));
  }
  for (const auto& [id, entry] : pending) {
    if (entry.found != entry.batch.raw_flows) {
      const auto names = nodes.names();
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
  WEIR_RETURN_IF_ERROR(WriteBuffers(db, buffers, cutoff_sec, merge_end_sec,
                                    &views, /*logged=*/true));
  if (progress) {
    uint64_t flows = 0;
    for (const auto& [id, entry] : pending) flows += entry.found;
    progress(absl::StrCat("rolled up ", pending.size(), " batches (", flows,
                          " flows) in ",
                          absl::FormatDuration(absl::Trunc(
                              absl::Now() - started, absl::Milliseconds(1)))));
  }
  return absl::OkStatus();
}

}  // namespace weir::store
