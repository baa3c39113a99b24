#include "queryd/store/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace weir::store {

absl::Status FromRocksDb(const rocksdb::Status& status,
                         absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", status.ToString());
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kNotSupported:
      return absl::UnimplementedError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kIOError:
      if (status.subcode() == rocksdb::Status::kNoSpace ||
          status.subcode() == rocksdb::Status::kSpaceLimit) {
        return absl::ResourceExhaustedError(message);
      }
      if (status.subcode() == rocksdb::Status::kPathNotFound) {
        return absl::NotFoundError(message);
      }
      return absl::UnavailableError(message);
    case rocksdb::Status::kMergeInProgress:
    case rocksdb::Status::kIncomplete:
      return absl::InternalError(message);
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
      return absl::UnavailableError(message);
    case rocksdb::Status::kTimedOut:
      return absl::DeadlineExceededError(message);
    case rocksdb::Status::kAborted:
      return absl::AbortedError(message);
    case rocksdb::Status::kColumnFamilyDropped:
      return absl::FailedPreconditionError(message);
    default:
      return absl::UnknownError(message);
  }
}

}  // namespace weir::store
