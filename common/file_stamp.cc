#include "common/file_stamp.h"

#include <sys/stat.h>

namespace weir {
namespace {

int64_t Nanos(const timespec& t) {
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

}  // namespace

std::optional<FileStamp> StampOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size, Nanos(st.st_mtim),
                   Nanos(st.st_ctim)};
}

}  // namespace weir
