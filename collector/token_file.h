// The collector's ingest token (--token-file): one bearer token, sent as
// `authorization: Bearer <token>` metadata on every ingest stream.
#ifndef WEIR_COLLECTOR_TOKEN_FILE_H_
#define WEIR_COLLECTOR_TOKEN_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace weir::collector {

// The token in the file at `path`: its contents without surrounding
// whitespace (a trailing newline, as `echo` or a Kubernetes Secret leaves
// it). An error, naming the file and never its contents, when the file
// cannot be read, is empty, or holds more than one word.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_TOKEN_FILE_H_
