// The query tier: what weir-queryd does once its flags are parsed.
#ifndef WEIR_QUERYD_QUERYD_H_
#define WEIR_QUERYD_QUERYD_H_

#include <string>

#include "absl/status/status.h"
#include "queryd/options.h"

namespace weir::queryd {

// Checks values beyond their types; the message names the flag.
absl::Status ValidateOptions(const QuerydOptions& options);

// Whether host:port names a loopback host (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(const std::string& address);

// Reads and checks the TLS files (LoadTlsMaterial); OK without TLS.
absl::Status CheckTlsFiles(const QuerydOptions& options);

// FAILED_PRECONDITION when running as root without allow_root.
absl::Status CheckNotRoot(const QuerydOptions& options);

// Runs queryd until SIGINT or SIGTERM.
absl::Status Run(const QuerydOptions& options);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_QUERYD_H_
