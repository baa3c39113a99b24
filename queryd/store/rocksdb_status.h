// rocksdb::Status to absl::Status, for the store's own use. (To move next
// to //common:status_util once it exists.)

#ifndef WEIR_QUERYD_STORE_ROCKSDB_STATUS_H_
#define WEIR_QUERYD_STORE_ROCKSDB_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/status.h"

namespace weir::store {

// The most specific canonical code for `status`, its message prefixed with
// what the store was doing ("writing batch 7 of node a: ..."). OK stays OK.
absl::Status FromRocksDb(const rocksdb::Status& status,
                         absl::string_view context);

}  // namespace weir::store

#endif  // WEIR_QUERYD_STORE_ROCKSDB_STATUS_H_
