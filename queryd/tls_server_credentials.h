// gRPC server credentials whose certificate, key and client CA come from a
// TlsFileWatcher: each new connection's handshake asks it for the material
// in use, so replaced files serve new connections at once while established
// connections (and their streams) go on with what they began with.
//
// Built on gRPC's certificate-config fetcher (grpc_security.h), which keeps
// the previous configuration when a new one fails. The file-watching
// provider of grpc::experimental::TlsServerCredentials does not: a file it
// cannot read clears the identity, and content it cannot use replaces the
// working handshaker with none, so every later handshake fails.
#ifndef WEIR_QUERYD_TLS_SERVER_CREDENTIALS_H_
#define WEIR_QUERYD_TLS_SERVER_CREDENTIALS_H_

#include <memory>

#include "common/tls_files.h"
#include "grpcpp/security/server_credentials.h"

namespace weir::queryd {

// TLS 1.2 or newer (gRPC's floor). With `request_client_certificates`
// (the watcher then has a CA), clients are asked for a certificate and one
// that does not verify against the CA fails the handshake; clients
// without one still connect, and each service decides (IngestService
// refuses them). `files` must outlive the server.
std::shared_ptr<grpc::ServerCredentials> ReloadingTlsServerCredentials(
    std::shared_ptr<TlsFileWatcher> files, bool request_client_certificates);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_TLS_SERVER_CREDENTIALS_H_
