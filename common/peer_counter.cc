#include "common/peer_counter.h"

namespace weir {

std::unique_ptr<PeerCounter::Slot> PeerCounter::Acquire(const std::string& peer,
                                                        Refusal* refusal) {
  absl::MutexLock lock(&mu_);
  if (max_total_ > 0 && total_ >= max_total_) {
    *refusal = Refusal::kTotal;
    return nullptr;
  }
  int& mine = by_peer_[peer];
  if (max_per_peer_ > 0 && mine >= max_per_peer_) {
    *refusal = Refusal::kPerPeer;
    return nullptr;
  }
  ++mine;
  ++total_;
  *refusal = Refusal::kNone;
  return std::unique_ptr<Slot>(new Slot(this, peer));
}

void PeerCounter::Release(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  --total_;
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end() && --it->second <= 0) by_peer_.erase(it);
}

int PeerCounter::total() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

int PeerCounter::of(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? 0 : it->second;
}

}  // namespace weir
