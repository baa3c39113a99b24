#include "collector/collector.h"

#include "absl/strings/str_cat.h"

namespace weir::collector {

absl::Status ValidateOptions(const CollectorOptions& options) {
  if (options.interfaces.empty()) {
    return absl::InvalidArgumentError("--interfaces: no interface given");
  }
  if (options.queryd_address.empty()) {
    return absl::InvalidArgumentError("--queryd: must be host:port");
  }
  if (options.flush_interval < absl::Milliseconds(10) ||
      options.flush_interval > absl::Minutes(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--flush-interval: ", absl::FormatDuration(options.flush_interval),
        " is outside 10ms..10m"));
  }
  if (options.map_size < 1024 || options.map_size > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--map-size: ", options.map_size, " is outside 1024..16777216"));
  }
  if (options.pin_path.empty() || options.pin_path[0] != '/') {
    return absl::InvalidArgumentError("--pin-path: must be an absolute path");
  }
  return absl::OkStatus();
}

absl::Status Run(const CollectorOptions& options) {
  (void)options;
  return absl::UnimplementedError(
      "capture is not built yet; this binary only checks its flags");
}

}  // namespace weir::collector
