#include "queryd/tls_server_credentials.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "grpc/grpc.h"
#include "grpc/grpc_security.h"

namespace weir::queryd {
namespace {

class ReloadingCredentials final : public grpc::ServerCredentials {
 public:
  ReloadingCredentials(std::shared_ptr<TlsFileWatcher> files,
                       bool request_client_certificates)
      : files_(std::move(files)),
        request_client_certificates_(request_client_certificates) {}

  // Authentication beyond TLS is per service here, not a processor.
  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    // The port's handshaker is built from the first fetch: it must be NEW.
    served_.store(UINT64_MAX);
    grpc_ssl_server_credentials_options* options =
        grpc_ssl_server_credentials_create_options_using_config_fetcher(
            request_client_certificates_
                ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
            &Fetch, this);
    grpc_server_credentials* credentials =
        grpc_ssl_server_credentials_create_with_options(options);
    const int port =
        grpc_server_add_http2_port(server, addr.c_str(), credentials);
    grpc_server_credentials_release(credentials);
    return port;
  }

  // Called by gRPC before each handshake. NEW hands over the material when
  // the watcher accepted files since the last call; gRPC owns `config`.
  static grpc_ssl_certificate_config_reload_status Fetch(
      void* user_data, grpc_ssl_server_certificate_config** config) {
    auto* self = static_cast<ReloadingCredentials*>(user_data);
    uint64_t generation = 0;
    std::shared_ptr<const TlsMaterial> material =
        self->files_->Current(&generation);
    if (self->served_.load() == generation) {
      return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    }
    grpc_ssl_pem_key_cert_pair pair = {material->key.c_str(),
                                       material->cert_chain.c_str()};
    // gRPC insists on root certificates in a fetched config even when it
    // asks clients for no certificate (it then never verifies with them):
    // without --client-ca the server's own chain stands in, unused.
    const std::string& roots =
        material->ca.empty() ? material->cert_chain : material->ca;
    *config =
        grpc_ssl_server_certificate_config_create(roots.c_str(), &pair, 1);
    self->served_.store(generation);
    return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
  }

  const std::shared_ptr<TlsFileWatcher> files_;
  const bool request_client_certificates_;
  // The generation handed to gRPC; none yet at first, so the first call
  // (when the port is added) hands over the initial material.
  std::atomic<uint64_t> served_{UINT64_MAX};
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ReloadingTlsServerCredentials(
    std::shared_ptr<TlsFileWatcher> files, bool request_client_certificates) {
  return std::make_shared<ReloadingCredentials>(std::move(files),
                                                request_client_certificates);
}

}  // namespace weir::queryd
