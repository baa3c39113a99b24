// Per-IP traffic counters with bounded cardinality (docs/design.md §7): one
// series per (source, destination, direction) for at most K address pairs,
// plus an "other" series per direction with the exact remainder, so sums
// over the labels always equal the totals.
//
// Which pairs get a series is decided at each Settle() (every scrape) by
// a score: the bytes of the pair since the previous Settle, plus a tracked
// pair's earlier score halved every kScoreHalfLife. A new pair displaces the
// lowest tracked one only when it scores higher, so the set follows the
// heavy talkers without flapping every scrape.
//
// Every exported value is a Prometheus counter and never decreases:
// - bytes of untracked pairs wait in a bounded candidate table until the
//   next Settle, where they go to the pair's new series (when it is
//   admitted) or to "other";
// - a pair that loses its series folds its count into "other";
// - bytes that find the candidate table full go to "other" at once.
// So a pair's series counts its bytes since it was last admitted, and the
// sum of all series equals every byte ever added.
#ifndef WEIR_QUERYD_METRICS_IP_TOP_K_H_
#define WEIR_QUERYD_METRICS_IP_TOP_K_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "queryd/store/store_types.h"
#include "weir/v1/flow.pb.h"

namespace weir::queryd::metrics {

// The `direction` label of Weir's Prometheus series: "ingress", "egress"
// or "unspecified".
std::string DirectionLabel(weir::v1::Direction direction);

class IpTopK {
 public:
  static constexpr absl::Duration kScoreHalfLife = absl::Minutes(5);

  // k: series kept (0: only "other"). candidates: untracked pairs
  // remembered between two Settles.
  explicit IpTopK(size_t k, size_t candidates = 4096);

  void Add(const store::FlowRecord& flow);

  struct Series {
    std::string src_ip;  // "192.0.2.1", or "other"
    std::string dst_ip;
    std::string direction;  // "ingress", "egress" or "unspecified"
    // Address class of the remote side: the destination of egress
    // traffic, the source of ingress traffic ("private", "public", ...);
    // "other" for the remainder series.
    std::string ip_type;
    uint64_t bytes = 0;
  };
  // Re-ranks and returns every series: the tracked pairs (in descending
  // score) then one "other" series per direction seen.
  std::vector<Series> Settle(absl::Time now);

  // Sum of every byte added (what the series sum to after Settle).
  uint64_t total_bytes() const { return total_; }

 private:
  struct Key {
    store::Address src;
    store::Address dst;
    weir::v1::Direction direction;

    bool operator==(const Key& other) const {
      return src == other.src && dst == other.dst &&
             direction == other.direction;
    }
    template <typename H>
    friend H AbslHashValue(H h, const Key& key) {
      return H::combine(std::move(h), key.src, key.dst, key.direction);
    }
  };
  struct Tracked {
    uint64_t bytes = 0;   // the series' value
    uint64_t recent = 0;  // since the last Settle
    double score = 0;
  };

  const size_t k_;
  const size_t candidates_;
  absl::Time last_settle_ = absl::InfinitePast();
  uint64_t total_ = 0;
  absl::flat_hash_map<Key, Tracked> tracked_;
  absl::flat_hash_map<Key, uint64_t> pending_;
  absl::flat_hash_map<weir::v1::Direction, uint64_t> other_;
};

}  // namespace weir::queryd::metrics

#endif  // WEIR_QUERYD_METRICS_IP_TOP_K_H_
