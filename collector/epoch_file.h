// The collector's epoch, kept from going backwards.
//
// Each start of weir-collector ships under a new epoch, and queryd takes a
// node's batches only from its newest epoch (docs/design.md §3): a batch
// of an older epoch is dropped as stale. An epoch read off the wall clock
// alone goes backwards when the clock is stepped back between two runs, and
// then every batch of the new run would be stale. So the epoch of the last
// start is kept in a file beside the spool, and a new one is never below it:
// max(now, last + 1, floor).
#ifndef WEIR_COLLECTOR_EPOCH_FILE_H_
#define WEIR_COLLECTOR_EPOCH_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weir::collector {

struct EpochChoice {
  uint64_t epoch = 0;
  // The clock was behind the last epoch (stepped back, or a start within
  // the same nanosecond): the epoch was taken from the file instead.
  bool clock_behind = false;
  // The file was there but unreadable or not a number: it was replaced
  // (the epoch then comes from the clock and `floor` only).
  bool file_damaged = false;
};

// The epoch for a start at `now`, above `floor` (e.g. the newest epoch of
// a batch still spooled), written durably to `path` (a temporary file,
// fsync, rename, fsync of the folder) before it is returned, so no batch
// leaves under an epoch a later start could repeat. Errors name the path.
absl::StatusOr<EpochChoice> NextEpoch(const std::string& path, absl::Time now,
                                      uint64_t floor = 0);

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_EPOCH_FILE_H_
