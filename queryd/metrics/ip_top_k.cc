#include "queryd/metrics/ip_top_k.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/types/span.h"
#include "common/ip_address.h"
#include "common/saturating.h"

namespace weir::queryd::metrics {
namespace {

std::string AddressText(const store::Address& address) {
  absl::StatusOr<IpAddress> ip =
      IpAddress::FromBytes(absl::MakeConstSpan(address.data(), address.size()));
  return ip.ok() ? ip->ToString() : "invalid";
}

std::string ClassOf(const store::Address& address) {
  absl::StatusOr<IpAddress> ip =
      IpAddress::FromBytes(absl::MakeConstSpan(address.data(), address.size()));
  if (!ip.ok()) return "invalid";
  std::string name(AddressClassName(Classify(*ip)));
  return name;
}

}  // namespace

std::string DirectionLabel(weir::v1::Direction direction) {
  switch (direction) {
    case weir::v1::DIRECTION_INGRESS:
      return "ingress";
    case weir::v1::DIRECTION_EGRESS:
      return "egress";
    default:
      return "unspecified";
  }
}

IpTopK::IpTopK(size_t k, size_t candidates) : k_(k), candidates_(candidates) {
  // The remainder series exist from the start, so they are never missing
  // from a sum.
  other_[weir::v1::DIRECTION_INGRESS] = 0;
  other_[weir::v1::DIRECTION_EGRESS] = 0;
}

void IpTopK::Add(const store::FlowRecord& flow) {
  SaturatingAddTo(total_, flow.bytes);
  const Key key{flow.src_addr, flow.dst_addr, flow.direction};
  if (auto it = tracked_.find(key); it != tracked_.end()) {
    SaturatingAddTo(it->second.bytes, flow.bytes);
    SaturatingAddTo(it->second.recent, flow.bytes);
    return;
  }
  if (auto it = pending_.find(key); it != pending_.end()) {
    SaturatingAddTo(it->second, flow.bytes);
  } else if (pending_.size() < candidates_) {
    pending_.emplace(key, flow.bytes);
  } else {
    SaturatingAddTo(other_[flow.direction], flow.bytes);
  }
}

std::vector<IpTopK::Series> IpTopK::Settle(absl::Time now) {
  const double decay =
      last_settle_ == absl::InfinitePast()
          ? 0.0
          : std::exp2(-absl::FDivDuration(now - last_settle_, kScoreHalfLife));
  last_settle_ = now;

  // Everyone competing for the k series: tracked pairs first, so they win
  // ties and stay.
  struct Contender {
    Key key;
    double score;
    bool tracked;
  };
  std::vector<Contender> contenders;
  contenders.reserve(tracked_.size() + pending_.size());
  for (auto& [key, tracked] : tracked_) {
    tracked.score = tracked.score * decay + static_cast<double>(tracked.recent);
    tracked.recent = 0;
    contenders.push_back({key, tracked.score, true});
  }
  for (const auto& [key, bytes] : pending_) {
    contenders.push_back({key, static_cast<double>(bytes), false});
  }
  std::stable_sort(contenders.begin(), contenders.end(),
                   [](const Contender& a, const Contender& b) {
                     if (a.score != b.score) return a.score > b.score;
                     return a.tracked && !b.tracked;
                   });

  for (size_t i = 0; i < contenders.size(); ++i) {
    const Contender& c = contenders[i];
    const bool keep = i < k_;
    if (c.tracked && !keep) {
      auto it = tracked_.find(c.key);
      SaturatingAddTo(other_[c.key.direction], it->second.bytes);
      tracked_.erase(it);
    } else if (!c.tracked) {
      const uint64_t bytes = pending_[c.key];
      if (keep) {
        tracked_[c.key] = Tracked{bytes, 0, static_cast<double>(bytes)};
      } else {
        SaturatingAddTo(other_[c.key.direction], bytes);
      }
    }
  }
  pending_.clear();

  std::vector<Series> series;
  for (const Contender& c : contenders) {
    auto it = tracked_.find(c.key);
    if (it == tracked_.end()) continue;
    const bool ingress = c.key.direction == weir::v1::DIRECTION_INGRESS;
    series.push_back({AddressText(c.key.src), AddressText(c.key.dst),
                      DirectionLabel(c.key.direction),
                      ClassOf(ingress ? c.key.src : c.key.dst),
                      it->second.bytes});
  }
  std::vector<std::pair<weir::v1::Direction, uint64_t>> others(other_.begin(),
                                                               other_.end());
  std::sort(others.begin(), others.end());
  for (const auto& [direction, bytes] : others) {
    series.push_back(
        {"other", "other", DirectionLabel(direction), "other", bytes});
  }
  return series;
}

}  // namespace weir::queryd::metrics
