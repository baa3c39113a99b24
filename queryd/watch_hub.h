// Fans newly stored flows out to WatchFlows streams.
//
// Publish() runs on the ingest path, so it never waits for a watcher: each
// subscriber has a bounded queue, and a flow that does not fit is counted in
// that subscriber's dropped counter (sent to the client with every message)
// instead of slowing ingest.
#ifndef WEIR_QUERYD_WATCH_HUB_H_
#define WEIR_QUERYD_WATCH_HUB_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "queryd/query/flow_filter.h"
#include "queryd/store/store_types.h"

namespace weir::queryd {

// One watcher's queue. Thread-safe; held by shared_ptr by the hub and by the
// stream that drains it.
class WatchQueue {
 public:
  WatchQueue(query::FlowFilter filter, size_t capacity)
      : filter_(std::move(filter)), capacity_(capacity) {}
  virtual ~WatchQueue() = default;

  const query::FlowFilter& filter() const { return filter_; }

  // Queues `flow`, or counts it as dropped when the queue is full. Returns
  // true when the queue was empty before (the drainer may be idle).
  bool Offer(const store::FlowRecord& flow);

  // Takes the oldest queued flow; false when empty.
  bool Pop(store::FlowRecord* flow);

  uint64_t dropped() const;

 protected:
  // Called by the hub after Offer() filled an empty queue, without the
  // hub's lock held. The stream starts draining.
  virtual void OnReadable() {}
  friend class WatchHub;

 private:
  const query::FlowFilter filter_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<store::FlowRecord> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

class WatchHub {
 public:
  WatchHub() = default;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void Subscribe(std::shared_ptr<WatchQueue> queue);
  void Unsubscribe(const WatchQueue* queue);

  // Offers every flow to every subscriber whose filter matches it.
  void Publish(const std::vector<store::FlowRecord>& flows);

  size_t subscribers() const;
  // Sum of every current subscriber's dropped counter.
  uint64_t dropped() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<WatchQueue>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_WATCH_HUB_H_
