// The format version of a data directory (schema.h kFormatVersion), and the
// conversions that bring an older one up to date at open. Each conversion
// writes in chunks that hold both the new records and the deletion of the
// old ones, so a stop half-way loses and doubles nothing and the next open
// goes on.

#ifndef WEIR_QUERYD_STORE_FORMAT_UPGRADE_H_
#define WEIR_QUERYD_STORE_FORMAT_UPGRADE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "queryd/store/rocks_db.h"

namespace weir::store {

// Reads the format version of an existing database without writing to it:
// a directory of a newer version must be refused before anything (WAL
// recovery, compaction) could change it. 0 for a store whose first open
// stopped before it wrote its version. FAILED_PRECONDITION for a newer
// version or a directory that is not a store; DATA_LOSS for a corrupt
// record.
absl::StatusOr<uint32_t> ReadFormatVersion(const std::string& dir);

// Converts the database in `dir`, of format version `stored_version`, to
// blocks (format version 4) when it is older, saying so through `progress`
// (may be empty): rollups of versions 1 and 2 (one key per entry), then raw
// flows of versions 1 to 3 (one key per flow).
absl::Status UpgradeFormat(
    RocksDb& db, const std::string& dir, uint32_t stored_version,
    const std::function<void(absl::string_view line)>& progress);

// The hour tier's end (kHourTierEndKey) as stored. Without one, a store
// that has written its version record (`versioned`) of a version before 5
// merged every hour into h1 as it came: summing starts at the hour after
// now. A new one sums every hour from m1 (0). DATA_LOSS for a corrupt or
// missing (version 5 on) record.
absl::StatusOr<uint64_t> ReadHourTierEnd(RocksDb& db, const std::string& dir,
                                         bool versioned,
                                         uint32_t stored_version);

// Writes this version's format record and the hour tier's end, synced.
absl::Status WriteFormatRecords(RocksDb& db, const std::string& dir,
                                uint64_t hour_end_sec);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_FORMAT_UPGRADE_H_
