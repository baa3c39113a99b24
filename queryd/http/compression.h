// gzip for whole HTTP responses (RFC 9110 content coding), on zlib.
#ifndef WEIR_QUERYD_HTTP_COMPRESSION_H_
#define WEIR_QUERYD_HTTP_COMPRESSION_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir::queryd::http {

// Bodies shorter than this are sent as they are: gzip's 18 bytes of framing
// and a round of work do not pay for them.
inline constexpr size_t kMinGzipBytes = 1024;

// Whether an Accept-Encoding header value accepts gzip: "gzip" or "x-gzip"
// (or "*" when gzip is not named) with a q-value above 0. Codings are
// case-insensitive; a malformed q-value counts as 0 (not accepted).
bool AcceptsGzip(absl::string_view accept_encoding);

// `data` as one gzip member (RFC 1952), at zlib's default level.
absl::StatusOr<std::string> Gzip(absl::string_view data);

// The inverse, for tests: the data of one gzip member.
absl::StatusOr<std::string> Gunzip(absl::string_view data);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_COMPRESSION_H_
