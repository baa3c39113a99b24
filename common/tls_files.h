// TLS certificate, key and CA files: read and checked before use, and read
// again when they change (a Kubernetes Secret update replaces them), so a
// listener or a client picks up rotated material without a restart. A
// replacement that does not check out is refused with one line and the
// material in use stays.
#ifndef WEIR_COMMON_TLS_FILES_H_
#define WEIR_COMMON_TLS_FILES_H_

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/file_stamp.h"

namespace weir {

// Where the files are, and the flags they came from (messages name them).
// An empty path is not used; cert and key go together.
struct TlsFilePaths {
  std::string cert;
  std::string key;
  std::string ca;
  std::string cert_flag = "--tls-cert";
  std::string key_flag = "--tls-key";
  std::string ca_flag = "--client-ca";
};

// What the files held, checked.
struct TlsMaterial {
  std::string cert_chain;  // PEM, the leaf first
  std::string key;         // PEM
  std::string ca;          // PEM bundle; empty when not used
  std::string serial;      // the leaf's serial number, hex (for log lines)
};

// Reads the files and checks them: the certificate file holds at least one
// PEM certificate and its first one is within its validity period; the key
// parses and belongs to that certificate; the CA file holds at least one
// PEM certificate. INVALID_ARGUMENT (or the read's errno code) naming the
// flag and the path otherwise.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFilePaths& paths);

// The material of a set of files, read again when one of them changes
// (device, inode, size, mtime or ctime; a stat follows symlinks, so
// Kubernetes' swap of its ..data link counts), checked at most once per
// `check_interval`. Thread-safe.
class TlsFileWatcher {
 public:
  using Log = std::function<void(absl::string_view line)>;

  // Loads the files once: an error here means the program must not start.
  // `log` gets one line per reload, accepted or refused.
  static absl::StatusOr<std::unique_ptr<TlsFileWatcher>> Create(
      TlsFilePaths paths, Log log,
      absl::Duration check_interval = absl::Seconds(1));

  TlsFileWatcher(const TlsFileWatcher&) = delete;
  TlsFileWatcher& operator=(const TlsFileWatcher&) = delete;

  // The material in use, after reloading it if a file changed. A change
  // that does not check out keeps the material in use (and is reported
  // once, until the files change again). `generation`, when given, is set
  // to a number that grows with each accepted reload.
  std::shared_ptr<const TlsMaterial> Current(uint64_t* generation = nullptr);

 private:
  // cert, key, ca; none for a file not given or missing.
  using Stamps = std::array<std::optional<FileStamp>, 3>;

  TlsFileWatcher(TlsFilePaths paths, Log log, absl::Duration check_interval)
      : paths_(std::move(paths)),
        log_(std::move(log)),
        check_interval_(check_interval) {}
  Stamps StampFiles() const;

  const TlsFilePaths paths_;
  const Log log_;
  const absl::Duration check_interval_;

  absl::Mutex mu_;
  std::shared_ptr<const TlsMaterial> current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The files as they were when last read (accepted or refused).
  Stamps seen_ ABSL_GUARDED_BY(mu_);
  absl::Time last_check_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir

#endif  // WEIR_COMMON_TLS_FILES_H_
