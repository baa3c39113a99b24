// What tells that a file watched for changes (a certificate, a token file)
// changed: device, inode, size and both times. A replacement renamed over
// it, an edit in place and a touch each give a different stamp.
#ifndef WEIR_COMMON_FILE_STAMP_H_
#define WEIR_COMMON_FILE_STAMP_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace weir {

struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;

  bool operator==(const FileStamp& o) const {
    return device == o.device && inode == o.inode && size == o.size &&
           mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
  }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

// The stamp of `path` now; nullopt, with errno as stat(2) left it, when it
// cannot be had (a missing file).
std::optional<FileStamp> StampOf(const std::string& path);

}  // namespace weir

#endif  // WEIR_COMMON_FILE_STAMP_H_
