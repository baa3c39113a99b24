// The TLS context new HTTPS connections of the HTTP front start with: TLS
// 1.2 or newer, forward-secret AEAD ciphers for 1.2 (1.3's own suites),
// no compression, no renegotiation; rebuilt when the TLS files change.
// Connections keep the context they began with. Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_TLS_CONTEXT_H_
#define WEIR_QUERYD_HTTP_TLS_CONTEXT_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ssl/context.hpp"
#include "common/tls_files.h"

namespace weir::queryd::http {

// A server context serving `material`'s certificate chain and key.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsMaterial& material);

class TlsContexts {
 public:
  // INVALID_ARGUMENT when the files' material makes no context.
  static absl::StatusOr<std::unique_ptr<TlsContexts>> Create(
      std::shared_ptr<TlsFileWatcher> files);

  // The context for a connection accepted now (the files are checked at
  // most once a second, TlsFileWatcher).
  std::shared_ptr<boost::asio::ssl::context> Current();

 private:
  explicit TlsContexts(std::shared_ptr<TlsFileWatcher> files)
      : files_(std::move(files)) {}

  const std::shared_ptr<TlsFileWatcher> files_;
  absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<boost::asio::ssl::context> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_TLS_CONTEXT_H_
