#include "queryd/queryd.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace weir::queryd {
namespace {

absl::Status CheckRetention(absl::string_view flag, absl::Duration value,
                            absl::Duration minimum) {
  if (value < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", absl::FormatDuration(value),
                     " is shorter than ", absl::FormatDuration(minimum)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateOptions(const QuerydOptions& options) {
  if (options.data_dir.empty()) {
    return absl::InvalidArgumentError("--data-dir: must not be empty");
  }
  if (options.grpc_address.empty()) {
    return absl::InvalidArgumentError("--grpc-address: must be host:port");
  }
  if (options.http_address.empty()) {
    return absl::InvalidArgumentError("--http-address: must be host:port");
  }
  for (const auto& [flag, value, minimum] :
       {std::tuple{"retention-raw", options.retention_raw, absl::Minutes(1)},
        std::tuple{"retention-1m", options.retention_1m, absl::Minutes(1)},
        std::tuple{"retention-1h", options.retention_1h, absl::Hours(1)}}) {
    if (absl::Status status = CheckRetention(flag, value, minimum);
        !status.ok()) {
      return status;
    }
  }
  if (options.connection_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--connection-timeout: must be positive");
  }
  if (options.max_page_size == 0 || options.max_page_size > 100000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-page-size: ", options.max_page_size, " is outside 1..100000"));
  }
  return absl::OkStatus();
}

absl::Status Run(const QuerydOptions& options) {
  (void)options;
  return absl::UnimplementedError(
      "the query tier is not built yet; this binary only checks its flags");
}

}  // namespace weir::queryd
