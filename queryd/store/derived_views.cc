#include "queryd/store/derived_views.h"

#include <algorithm>

namespace weir::store {
namespace {

constexpr uint64_t kSecondsPerHour = 3600;

template <typename Key>
using Entries = std::vector<std::pair<Key, Totals>>;

template <typename Key>
bool Less(const std::pair<Key, Totals>& a, const std::pair<Key, Totals>& b) {
  return a.first < b.first;
}

// Sums neighbours with equal keys, in place.
template <typename Key>
void SumNeighbours(Entries<Key>& entries) {
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (kept > 0 && entries[kept - 1].first == entries[i].first) {
      entries[kept - 1].second += entries[i].second;
    } else {
      entries[kept++] = entries[i];
    }
  }
  entries.resize(kept);
}

// Sorts entries and sums those with equal keys, in place.
template <typename Key>
void SortAndSum(Entries<Key>& entries) {
  std::sort(entries.begin(), entries.end(), Less<Key>);
  SumNeighbours(entries);
}

// Merges the sorted runs of `entries` that start at `starts`, pairwise,
// then sums equal keys.
template <typename Key>
void MergeRuns(Entries<Key>& entries, std::vector<size_t>& starts) {
  while (starts.size() > 1) {
    size_t kept = 0;
    for (size_t r = 0; r < starts.size(); r += 2) {
      if (r + 1 < starts.size()) {
        const size_t end =
            r + 2 < starts.size() ? starts[r + 2] : entries.size();
        std::inplace_merge(entries.begin() + starts[r],
                           entries.begin() + starts[r + 1],
                           entries.begin() + end, Less<Key>);
      }
      starts[kept++] = starts[r];
    }
    starts.resize(kept);
  }
  SumNeighbours(entries);
}

// Appends the (sorted) `entries` of buckets before `end_sec` to `to` with
// their buckets widened to `width` seconds, adding a run start at each
// bucket.
template <typename Key>
void Widen(const Entries<Key>& entries, uint64_t width, uint64_t end_sec,
           Entries<Key>* to, std::vector<size_t>* starts) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].first.bucket_sec >= end_sec) break;
    if (i == 0 ||
        entries[i].first.bucket_sec != entries[i - 1].first.bucket_sec) {
      starts->push_back(to->size());
    }
    to->push_back(entries[i]);
    to->back().first.bucket_sec -= to->back().first.bucket_sec % width;
  }
}

}  // namespace

void DerivedViews::Add(const BaseSums& base, Tier base_tier) {
  Base& to = base_[RollupIndex(base_tier)];
  to.pair.insert(to.pair.end(), base.pair.begin(), base.pair.end());
  to.src_port.insert(to.src_port.end(), base.src_port.begin(),
                     base.src_port.end());
  to.dst_port.insert(to.dst_port.end(), base.dst_port.begin(),
                     base.dst_port.end());
  to.interface.insert(to.interface.end(), base.interface.begin(),
                      base.interface.end());
}

void DerivedViews::Append(const Cutoffs& cutoff_sec, uint64_t hour_end_sec,
                          BlockSink sink) {
  Base& minute = base_[RollupIndex(Tier::kMinute)];
  Base& hour = base_[RollupIndex(Tier::kHour)];
  // What only h1 keeps is one unsorted run; each minute of a closed hour
  // then adds one sorted run per base view.
  hour.SortAndSum();
  hour.StartRuns();
  minute.SortAndSum();
  minute.AppendTo(&hour, kSecondsPerHour, hour_end_sec);
  hour.MergeRuns();
  for (Tier tier : kRollupTiers) {
    const int i = RollupIndex(tier);
    writer_.cutoff = cutoff_sec[static_cast<int>(tier)];
    writer_.tier = tier;
    writer_.sink = &sink;
    WriteViews(base_[i]);
    base_[i].Clear();
  }
  writer_.sink = nullptr;
}

void DerivedViews::Base::SortAndSum() {
  weir::store::SortAndSum(pair);
  weir::store::SortAndSum(src_port);
  weir::store::SortAndSum(dst_port);
  weir::store::SortAndSum(interface);
}

void DerivedViews::Base::StartRuns() {
  for (auto& s : starts) s.clear();
  if (!pair.empty()) starts[0].push_back(0);
  if (!src_port.empty()) starts[1].push_back(0);
  if (!dst_port.empty()) starts[2].push_back(0);
  if (!interface.empty()) starts[3].push_back(0);
}

void DerivedViews::Base::AppendTo(Base* to, uint64_t width,
                                  uint64_t end_sec) const {
  Widen(pair, width, end_sec, &to->pair, &to->starts[0]);
  Widen(src_port, width, end_sec, &to->src_port, &to->starts[1]);
  Widen(dst_port, width, end_sec, &to->dst_port, &to->starts[2]);
  Widen(interface, width, end_sec, &to->interface, &to->starts[3]);
}

void DerivedViews::Base::MergeRuns() {
  weir::store::MergeRuns(pair, starts[0]);
  weir::store::MergeRuns(src_port, starts[1]);
  weir::store::MergeRuns(dst_port, starts[2]);
  weir::store::MergeRuns(interface, starts[3]);
}

void DerivedViews::Base::Clear() {
  pair.clear();
  src_port.clear();
  dst_port.clear();
  interface.clear();
}

void DerivedViews::WriteViews(const Base& base) {
  writer_.Write(base.pair, View::kPair, [](const PairKey& k, RollupKey* key) {
    key->src_addr = k.src;
    key->dst_addr = k.dst;
  });
  // Sorted by (bucket, src, dst), so by (bucket, src) too.
  src_.clear();
  for (const auto& [key, totals] : base.pair) {
    src_.push_back({{key.bucket_sec, key.src}, totals});
  }
  SumNeighbours(src_);
  writer_.Write(src_, View::kSrc, [](const AddressKey& k, RollupKey* key) {
    key->src_addr = k.address;
  });
  dst_.clear();
  for (const auto& [key, totals] : base.pair) {
    dst_.push_back({{key.bucket_sec, key.dst}, totals});
  }
  weir::store::SortAndSum(dst_);
  writer_.Write(dst_, View::kDst, [](const AddressKey& k, RollupKey* key) {
    key->dst_addr = k.address;
  });
  const auto port = [](const PortKey& k, RollupKey* key) {
    key->protocol = k.protocol;
    key->port = k.port;
  };
  writer_.Write(base.src_port, View::kSrcPort, port);
  writer_.Write(base.dst_port, View::kDstPort, port);
  // Sorted by (bucket, protocol, port), so by (bucket, protocol) too.
  protocol_.clear();
  for (const auto& [key, totals] : base.src_port) {
    protocol_.push_back({{key.bucket_sec, key.protocol}, totals});
  }
  SumNeighbours(protocol_);
  writer_.Write(
      protocol_, View::kProtocol,
      [](const ProtocolKey& k, RollupKey* key) { key->protocol = k.protocol; });
  writer_.Write(base.interface, View::kNode,
                [](const InterfaceKey& k, RollupKey* key) {
                  key->node_id = k.node_id;
                  key->direction = k.direction;
                  key->ifname = k.ifname;
                });
}

template <typename Key, typename Fill>
void DerivedViews::Writer::Write(const Entries<Key>& entries, View view,
                                 Fill fill) {
  key.view = view;
  const size_t key_size = ViewKeySize(view);
  shards.resize(ShardCount(view));
  for (BlockBuilder& shard : shards) shard.Reset(key_size);
  uint64_t bucket = entries.empty() ? 0 : entries[0].first.bucket_sec;
  const auto write_bucket = [&] {
    for (size_t i = 0; i < shards.size(); ++i) {
      if (shards[i].empty()) continue;
      block_key.clear();
      AppendBlockKey({bucket, view, static_cast<uint16_t>(i)}, &block_key);
      (*sink)(tier, block_key, shards[i].value());
      shards[i].Reset(key_size);
    }
  };
  for (const auto& [k, sum] : entries) {
    if (k.bucket_sec != bucket) {
      write_bucket();
      bucket = k.bucket_sec;
    }
    if (k.bucket_sec < cutoff) continue;
    fill(k, &key);
    view_key.clear();
    AppendViewKey(key, &view_key);
    shards[ShardOf(view, view_key)].Add(view_key, sum);
  }
  write_bucket();
}

}  // namespace weir::store
