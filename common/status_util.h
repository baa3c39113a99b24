// Turning errno-style failures into absl::Status, and adding context to a
// status as it travels up the layers.

#ifndef WEIR_COMMON_STATUS_UTIL_H_
#define WEIR_COMMON_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace weir {

// Converts a libbpf return value into a status. libbpf reports failure as a
// negative errno and success as zero or a non-negative result (a file
// descriptor, a count), so any `err >= 0` is OK and a call can be wrapped
// directly:
//
//   WEIR_RETURN_IF_ERROR(
//       LibbpfErrorToStatus(bpf_object__load(obj), "loading BPF object"));
//
// A failure reads "loading BPF object: Operation not permitted" and carries
// the canonical code for the errno (EPERM -> PERMISSION_DENIED, ENOENT ->
// NOT_FOUND, ...). libbpf's own codes (LIBBPF_ERRNO__*, 4000 and up) have no
// errno name: they are UNKNOWN and read "Unknown error 4007", which
// libbpf_strerror() can decode. Values below -4095 are not errnos at all and
// become UNKNOWN too.
absl::Status LibbpfErrorToStatus(int err, absl::string_view what);

// The status of a libbpf call known to have failed, from what it returned
// (-errno) or from errno itself (positive): as LibbpfErrorToStatus, but
// never OK, so a failure path cannot turn into success (0 is UNKNOWN).
absl::Status LibbpfFailure(int err, absl::string_view what);

// Converts the current `errno` into a status, as "what: strerror(errno)".
// Call it straight after the failing call, before anything can change errno.
// Never returns OK: when errno is 0 the status is UNKNOWN and says so.
absl::Status ErrnoStatus(absl::string_view what);

// Returns `status` with its message prefixed by `context`, as
// "context: original message", keeping the code and payloads. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// Quotes user-supplied text for an error message: C-escaped inside double
// quotes so control characters and quotes cannot garble a log line, and cut
// to its first 64 bytes, with its length noted, when longer.
std::string QuoteForError(absl::string_view text);

}  // namespace weir

#endif  // WEIR_COMMON_STATUS_UTIL_H_
