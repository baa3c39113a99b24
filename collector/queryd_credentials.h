// The credentials the collector connects to queryd with: plaintext without
// --queryd-ca; otherwise TLS verifying queryd against that CA, presenting
// --client-cert/--client-key when given (mutual TLS for ingest). The files
// are re-read when they change; each new connection uses what they hold
// then, and a replacement that does not check out is refused with one line
// while the previous material stays in use.
#ifndef WEIR_COLLECTOR_QUERYD_CREDENTIALS_H_
#define WEIR_COLLECTOR_QUERYD_CREDENTIALS_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/tls_files.h"
#include "grpcpp/security/credentials.h"

namespace weir::collector {

class QuerydCredentials {
 public:
  // `files.ca` empty: plaintext (cert and key must be empty too).
  static absl::StatusOr<std::unique_ptr<QuerydCredentials>> Create(
      TlsFilePaths files, TlsFileWatcher::Log log);

  // The credentials for the next connection; the same pointer until the
  // files change.
  std::shared_ptr<grpc::ChannelCredentials> Current();

 private:
  QuerydCredentials() = default;

  std::unique_ptr<TlsFileWatcher> files_;  // null: plaintext
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<grpc::ChannelCredentials> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::collector

#endif  // WEIR_COLLECTOR_QUERYD_CREDENTIALS_H_
