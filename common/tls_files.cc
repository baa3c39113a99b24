#include "common/tls_files.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace weir {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string Where(absl::string_view flag, absl::string_view path) {
  return absl::StrCat(flag, " ", path);
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno != 0 ? errno : ENOENT;
    return absl::ErrnoToStatus(
        err, absl::StrCat(Where(flag, path), ": cannot read"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::ErrnoToStatus(
        errno != 0 ? errno : EIO,
        absl::StrCat(Where(flag, path), ": cannot read"));
  }
  return text.str();
}

Bio MemoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// The PEM certificates of `text`, in order; INVALID_ARGUMENT without any.
absl::StatusOr<std::vector<Cert>> ParseCertificates(absl::string_view flag,
                                                    const std::string& path,
                                                    const std::string& text) {
  Bio bio = MemoryBio(text);
  std::vector<Cert> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the end of the input reads as an error
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Where(flag, path), ": holds no PEM certificate (BEGIN CERTIFICATE)"));
  }
  return certs;
}

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "?";
  char* hex = BN_bn2hex(bn);
  std::string serial = hex != nullptr ? hex : "?";
  OPENSSL_free(hex);
  BN_free(bn);
  return serial;
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFilePaths& paths) {
  TlsMaterial material;
  if (paths.cert.empty() != paths.key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        paths.cert_flag, " and ", paths.key_flag, ": give both or neither"));
  }
  if (!paths.cert.empty()) {
    WEIR_ASSIGN_OR_RETURN(material.cert_chain,
                          ReadFile(paths.cert_flag, paths.cert));
    WEIR_ASSIGN_OR_RETURN(material.key, ReadFile(paths.key_flag, paths.key));
    WEIR_ASSIGN_OR_RETURN(
        std::vector<Cert> chain,
        ParseCertificates(paths.cert_flag, paths.cert, material.cert_chain));
    X509* leaf = chain.front().get();
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(paths.cert_flag, paths.cert), ": the certificate has expired"));
    }
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(paths.cert_flag, paths.cert),
                       ": the certificate is not valid yet"));
    }
    Bio key_bio = MemoryBio(material.key);
    Pkey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr,
                                     const_cast<char*>("")));
    ERR_clear_error();
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(paths.key_flag, paths.key),
                       ": holds no unencrypted PEM private key"));
    }
    if (X509_check_private_key(leaf, key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(Where(paths.key_flag, paths.key), ": is not the key of ",
                       paths.cert_flag, " ", paths.cert));
    }
    material.serial = SerialHex(leaf);
  }
  if (!paths.ca.empty()) {
    WEIR_ASSIGN_OR_RETURN(material.ca, ReadFile(paths.ca_flag, paths.ca));
    WEIR_RETURN_IF_ERROR(
        ParseCertificates(paths.ca_flag, paths.ca, material.ca).status());
  }
  return material;
}

absl::StatusOr<std::unique_ptr<TlsFileWatcher>> TlsFileWatcher::Create(
    TlsFilePaths paths, Log log, absl::Duration check_interval) {
  std::unique_ptr<TlsFileWatcher> watcher(
      new TlsFileWatcher(std::move(paths), std::move(log), check_interval));
  // Stamped before reading: a change while reading is seen next time.
  const Stamps stamps = watcher->StampFiles();
  WEIR_ASSIGN_OR_RETURN(TlsMaterial material, LoadTlsMaterial(watcher->paths_));
  absl::MutexLock lock(&watcher->mu_);
  watcher->current_ = std::make_shared<const TlsMaterial>(std::move(material));
  watcher->seen_ = stamps;
  watcher->last_check_ = absl::Now();
  return watcher;
}

TlsFileWatcher::Stamps TlsFileWatcher::StampFiles() const {
  Stamps stamps;
  const std::string* files[] = {&paths_.cert, &paths_.key, &paths_.ca};
  for (size_t i = 0; i < stamps.size(); ++i) {
    if (!files[i]->empty()) stamps[i] = StampOf(*files[i]);
  }
  return stamps;
}

std::shared_ptr<const TlsMaterial> TlsFileWatcher::Current(
    uint64_t* generation) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - last_check_ >= check_interval_) {
    last_check_ = now;
    const Stamps stamps = StampFiles();
    if (stamps != seen_) {
      seen_ = stamps;
      absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(paths_);
      if (material.ok()) {
        const std::string old_serial = current_->serial;
        current_ = std::make_shared<const TlsMaterial>(*std::move(material));
        ++generation_;
        if (log_) {
          log_(current_->serial.empty() || current_->serial == old_serial
                   ? std::string("TLS files changed; reloaded")
                   : absl::StrCat("TLS files changed; reloaded (certificate "
                                  "serial ",
                                  current_->serial, ", was ", old_serial, ")"));
        }
      } else if (log_) {
        log_(
            absl::StrCat("TLS files changed but were refused, still using "
                         "the previous ones: ",
                         material.status().message()));
      }
    }
  }
  if (generation != nullptr) *generation = generation_;
  return current_;
}

}  // namespace weir
