#include "collector/queryd_credentials.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace weir::collector {
namespace {

std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(
    const TlsMaterial& material) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = material.ca;
  ssl.pem_private_key = material.key;
  ssl.pem_cert_chain = material.cert_chain;
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<QuerydCredentials>> QuerydCredentials::Create(
    TlsFilePaths files, TlsFileWatcher::Log log) {
  std::unique_ptr<QuerydCredentials> credentials(new QuerydCredentials());
  if (files.ca.empty()) {
    if (!files.cert.empty() || !files.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          files.cert.empty() ? files.key_flag : files.cert_flag, ": needs ",
          files.ca_flag, " (a client certificate is for TLS)"));
    }
    absl::MutexLock lock(&credentials->mu_);
    credentials->current_ = grpc::InsecureChannelCredentials();
    return credentials;
  }
  WEIR_ASSIGN_OR_RETURN(
      credentials->files_,
      TlsFileWatcher::Create(std::move(files), std::move(log)));
  uint64_t generation = 0;
  std::shared_ptr<const TlsMaterial> material =
      credentials->files_->Current(&generation);
  absl::MutexLock lock(&credentials->mu_);
  credentials->generation_ = generation;
  credentials->current_ = TlsCredentials(*material);
  return credentials;
}

std::shared_ptr<grpc::ChannelCredentials> QuerydCredentials::Current() {
  absl::MutexLock lock(&mu_);
  if (files_ != nullptr) {
    uint64_t generation = 0;
    std::shared_ptr<const TlsMaterial> material = files_->Current(&generation);
    if (generation != generation_) {
      generation_ = generation;
      current_ = TlsCredentials(*material);
    }
  }
  return current_;
}

}  // namespace weir::collector
