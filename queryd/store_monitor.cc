#include "queryd/store_monitor.h"

#include <cstdio>
#include <string>
#include <utility>

namespace weir::queryd {

StoreMonitor::StoreMonitor(store::Store& store, Options options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

StoreMonitor::~StoreMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void StoreMonitor::Poke() {
  absl::MutexLock lock(&mu_);
  poked_ = true;
}

void StoreMonitor::Run() {
  absl::Time next_resume = absl::InfiniteFuture();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      const auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || poked_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&wake), options_.interval);
      if (stop_) return;
      poked_ = false;
    }
    store::WriteState state = store_.GetWriteState();
    Report(state);
    if (state.writable()) {
      next_resume = absl::InfiniteFuture();
      continue;
    }
    // An interval after the failure was seen, then once per interval.
    const absl::Time now = absl::Now();
    if (next_resume == absl::InfiniteFuture()) {
      next_resume = now + options_.interval;
      continue;
    }
    if (now < next_resume) continue;
    next_resume = now + options_.interval;
    if (store_.Resume().ok()) Report(store_.GetWriteState());
  }
}

void StoreMonitor::Report(const store::WriteState& state) {
  if (state.cause == reported_) return;
  reported_ = state.cause;
  if (state.writable()) {
    std::fprintf(stderr,
                 "weir-queryd: the store writes again; ingest "
                 "resumes\n");
  } else {
    std::fprintf(stderr,
                 "weir-queryd: the store cannot write (%s): %s; ingest is "
                 "refused without acks and the store retried every %s\n",
                 std::string{store::CauseName(state.cause)}.c_str(),
                 state.message.c_str(),
                 absl::FormatDuration(options_.interval).c_str());
  }
  if (options_.on_change) options_.on_change(state);
}

}  // namespace weir::queryd
