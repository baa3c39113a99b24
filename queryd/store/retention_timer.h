// Calls Store::EnforceRetention every interval on a thread of its own.

#ifndef WEIR_QUERYD_STORE_RETENTION_TIMER_H_
#define WEIR_QUERYD_STORE_RETENTION_TIMER_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "queryd/store/store.h"

namespace weir::store {

class RetentionTimer {
 public:
  struct Options {
    // Time between runs; the first run is right at start.
    absl::Duration interval = absl::Minutes(1);
    // The clock passed to EnforceRetention.
    std::function<absl::Time()> now = [] { return absl::Now(); };
    // Called after every run with its result (the daemon logs failures and
    // counts them); may be empty.
    std::function<void(const absl::Status&)> on_run;
  };

  // Starts the thread. `store` must outlive the timer.
  RetentionTimer(Store* store, Options options);
  // Stops the thread, waiting for a run in progress.
  ~RetentionTimer();

  RetentionTimer(const RetentionTimer&) = delete;
  RetentionTimer& operator=(const RetentionTimer&) = delete;

 private:
  void Run();

  Store* const store_;
  const Options options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_RETENTION_TIMER_H_
