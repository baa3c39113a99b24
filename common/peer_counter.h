// Counts what each peer holds open (connections, streams) against a cap in
// total and a cap per peer. Acquire() takes a slot or says which cap is
// full; the slot gives itself back when destroyed. Thread-safe.

#ifndef WEIR_COMMON_PEER_COUNTER_H_
#define WEIR_COMMON_PEER_COUNTER_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace weir {

class PeerCounter {
 public:
  // 0 means no cap.
  PeerCounter(int max_total, int max_per_peer)
      : max_total_(max_total), max_per_peer_(max_per_peer) {}

  PeerCounter(const PeerCounter&) = delete;
  PeerCounter& operator=(const PeerCounter&) = delete;

  class Slot {
   public:
    ~Slot() { counter_->Release(peer_); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;

   private:
    friend class PeerCounter;
    Slot(PeerCounter* counter, std::string peer)
        : counter_(counter), peer_(std::move(peer)) {}
    PeerCounter* counter_;
    std::string peer_;
  };

  enum class Refusal { kNone, kTotal, kPerPeer };

  // A slot for `peer` (its address, no port), or null with `refusal` set
  // to the cap that is full. The counter must outlive its slots.
  std::unique_ptr<Slot> Acquire(const std::string& peer, Refusal* refusal);

  int total() const;
  int of(const std::string& peer) const;

 private:
  void Release(const std::string& peer);

  const int max_total_;
  const int max_per_peer_;
  mutable absl::Mutex mu_;
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> by_peer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir

#endif  // WEIR_COMMON_PEER_COUNTER_H_
