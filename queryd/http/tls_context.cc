#include "queryd/http/tls_context.h"

#include <openssl/ssl.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/buffer.hpp"

namespace weir::queryd::http {
namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2: ECDHE key exchange with AEAD ciphers only (what current browser
// and client guidance keeps); TLS 1.3 uses OpenSSL's default suites, all
// AEAD.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(
    const TlsMaterial& material) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return absl::InternalError("cannot set the TLS versions or ciphers");
  }
  context->set_options(ssl::context::default_workarounds |
                       ssl::context::no_compression |
                       ssl::context::single_dh_use);
  SSL_CTX_set_options(
      native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  context->use_certificate_chain(boost::asio::buffer(material.cert_chain), ec);
  if (!ec) {
    context->use_private_key(boost::asio::buffer(material.key),
                             ssl::context::pem, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS certificate or key: ", ec.message()));
  }
  return context;
}

absl::StatusOr<std::unique_ptr<TlsContexts>> TlsContexts::Create(
    std::shared_ptr<TlsFileWatcher> files) {
  std::unique_ptr<TlsContexts> contexts(new TlsContexts(std::move(files)));
  uint64_t generation = 0;
  std::shared_ptr<const TlsMaterial> material =
      contexts->files_->Current(&generation);
  absl::StatusOr<std::shared_ptr<ssl::context>> context =
      MakeServerTlsContext(*material);
  if (!context.ok()) return context.status();
  absl::MutexLock lock(&contexts->mu_);
  contexts->generation_ = generation;
  contexts->current_ = *std::move(context);
  return contexts;
}

std::shared_ptr<ssl::context> TlsContexts::Current() {
  uint64_t generation = 0;
  std::shared_ptr<const TlsMaterial> material = files_->Current(&generation);
  absl::MutexLock lock(&mu_);
  if (generation != generation_) {
    generation_ = generation;
    absl::StatusOr<std::shared_ptr<ssl::context>> context =
        MakeServerTlsContext(*material);
    if (context.ok()) {
      current_ = *std::move(context);
    } else {
      // Checked files that still make no context: the old one stays.
      std::fprintf(stderr,
                   "weir-queryd: HTTP: %s; still using the previous "
                   "TLS files\n",
                   std::string(context.status().message()).c_str());
    }
  }
  return current_;
}

}  // namespace weir::queryd::http
