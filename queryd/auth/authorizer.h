// Decides whether a call may run, from its bearer token and the scope it
// needs, against the tokens of --token-file (token_table.h). The file is
// re-read when it changes: its identity (device, inode), size and
// modification time are looked at, at most once per recheck interval, on the
// first call after it; Reload() re-reads it at once (SIGHUP). A new file
// that does not parse is refused with one line and the tokens in use stay.
//
// Without a token file there is no Authorizer, and every call runs (queryd
// as before tokens; docs/security.md says where that is safe).
#ifndef WEIR_QUERYD_AUTH_AUTHORIZER_H_
#define WEIR_QUERYD_AUTH_AUTHORIZER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/file_stamp.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "queryd/auth/token_table.h"

namespace weir::queryd::auth {

struct AuthorizerOptions {
  std::string token_file;
  absl::Duration recheck_interval = absl::Seconds(1);
  // Told of every reload and every refused file, one line each (never a
  // token). Null: stderr, prefixed "weir-queryd: ".
  std::function<void(absl::string_view)> log;
};

class Authorizer {
 public:
  // Reads the file; an error (unreadable, or a bad line as
  // "<file>:<line>: ...") when it cannot be used.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Open(
      AuthorizerOptions options);

  // OK when `authorization` (the Authorization header or metadata value;
  // nullopt when the call has none) carries a known token that grants
  // `needed`; otherwise UNAUTHENTICATED (no token, a malformed value, an
  // unknown or revoked token) or PERMISSION_DENIED (a known token without
  // the scope), each saying what the call needs. `what` names the call in
  // the message ("this call", "/metrics").
  absl::Status Authorize(std::optional<absl::string_view> authorization,
                         Scope needed, absl::string_view what = "this call");

  // Re-reads the file now, changed or not (SIGHUP).
  void Reload();

  size_t tokens() const;

 private:
  explicit Authorizer(AuthorizerOptions options);
  // Reads and parses the file; on success the table in use is replaced.
  absl::Status Load(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Log(absl::string_view line) const;

  const AuthorizerOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
  std::optional<FileStamp> loaded_ ABSL_GUARDED_BY(mu_);
  // Identity of the last file refused, so one bad file is told once.
  std::optional<FileStamp> refused_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The check every gRPC service runs before a call's work: the call's
// `authorization` metadata, checked by `authorizer` for `needed`, as a gRPC
// status; OK when `authorizer` is null (no --token-file). Two authorization
// values are UNAUTHENTICATED. Calls of the HTTP front pass here too: it
// forwards the Authorization header as this metadata on the in-process
// channel.
grpc::Status AuthorizeCall(Authorizer* authorizer,
                           const grpc::ServerContextBase& context,
                           Scope needed);

// A bidirectional stream that ends at once with `status` (a call refused
// before its work).
template <typename In, typename Out>
class RefusedBidiStream final : public grpc::ServerBidiReactor<In, Out> {
 public:
  explicit RefusedBidiStream(const grpc::Status& status) {
    this->Finish(status);
  }
  void OnDone() override { delete this; }
};

}  // namespace weir::queryd::auth

#endif  // WEIR_QUERYD_AUTH_AUTHORIZER_H_
