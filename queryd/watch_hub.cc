#include "queryd/watch_hub.h"

#include <algorithm>
#include <utility>

namespace weir::queryd {

bool WatchQueue::Offer(const store::FlowRecord& flow) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= capacity_) {
    ++dropped_;
    return false;
  }
  queue_.push_back(flow);
  return queue_.size() == 1;
}

bool WatchQueue::Pop(store::FlowRecord* flow) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return false;
  *flow = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

uint64_t WatchQueue::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

void WatchHub::Subscribe(std::shared_ptr<WatchQueue> queue) {
  absl::MutexLock lock(&mu_);
  queues_.push_back(std::move(queue));
}

void WatchHub::Unsubscribe(const WatchQueue* queue) {
  absl::MutexLock lock(&mu_);
  queues_.erase(
      std::remove_if(queues_.begin(), queues_.end(),
                     [queue](const auto& q) { return q.get() == queue; }),
      queues_.end());
}

void WatchHub::Publish(const std::vector<store::FlowRecord>& flows) {
  std::vector<std::shared_ptr<WatchQueue>> queues;
  {
    absl::MutexLock lock(&mu_);
    if (queues_.empty()) return;
    queues = queues_;
  }
  for (const std::shared_ptr<WatchQueue>& queue : queues) {
    bool became_readable = false;
    for (const store::FlowRecord& flow : flows) {
      if (queue->filter().Matches(flow) && queue->Offer(flow)) {
        became_readable = true;
      }
    }
    if (became_readable) queue->OnReadable();
  }
}

size_t WatchHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  return queues_.size();
}

uint64_t WatchHub::dropped() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& queue : queues_) total += queue->dropped();
  return total;
}

}  // namespace weir::queryd
