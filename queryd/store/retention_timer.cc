#include "queryd/store/retention_timer.h"

#include <utility>

namespace weir::store {

RetentionTimer::RetentionTimer(Store* store, Options options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

RetentionTimer::~RetentionTimer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RetentionTimer::Run() {
  while (true) {
    const absl::Status status = store_->EnforceRetention(options_.now());
    if (options_.on_run) options_.on_run(status);
    absl::MutexLock lock(&mu_);
    const absl::Condition stopping(&stopping_);
    mu_.AwaitWithTimeout(stopping, options_.interval);
    if (stopping_) return;
  }
}

}  // namespace weir::store
