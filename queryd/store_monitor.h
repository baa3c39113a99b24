// Keeps ingest's health true to the store, and brings the store back when
// it cannot write (docs/design.md §3, "Resource faults"): a thread that
// reads Store::GetWriteState when told of a write's outcome (Poke) and
// every `interval`, tells each change, and while the store cannot write
// calls Store::Resume once per interval. A full disk, descriptors run out
// or a RocksDB background error so end by themselves once the cause is
// gone, without a restart.
#ifndef WEIR_QUERYD_STORE_MONITOR_H_
#define WEIR_QUERYD_STORE_MONITOR_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "queryd/store/store.h"

namespace weir::queryd {

class StoreMonitor {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    // Told of each change of the store's state (writable or not, and the
    // cause), in order, on the monitor's thread. May be empty.
    std::function<void(const store::WriteState& state)> on_change;
  };

  // Starts the thread. `store` must outlive the monitor.
  StoreMonitor(store::Store& store, Options options);
  // Stops and joins the thread.
  ~StoreMonitor();

  StoreMonitor(const StoreMonitor&) = delete;
  StoreMonitor& operator=(const StoreMonitor&) = delete;

  // Reads the state now (a write failed or went through), without resuming:
  // a failure is told before the first attempt to resume, an interval on.
  void Poke();

 private:
  void Run();
  // Tells a change of state, if it is one.
  void Report(const store::WriteState& state);

  store::Store& store_;
  const Options options_;
  absl::Mutex mu_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Only the thread touches these.
  store::WriteState::Cause reported_ = store::WriteState::Cause::kNone;
  std::thread thread_;
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_STORE_MONITOR_H_
