#include "collector/epoch_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/status_util.h"

namespace weir::collector {
namespace {

// Writes all of `text` to `fd`.
absl::Status WriteAll(int fd, absl::string_view text, const std::string& path) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("writing ", path));
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("opening ", path));
  const absl::Cleanup close_fd = [fd] { close(fd); };
  if (fsync(fd) != 0) return ErrnoStatus(absl::StrCat("fsync of ", path));
  return absl::OkStatus();
}

// Replaces `path` with `text`, durably.
absl::Status WriteDurably(const std::string& path, absl::string_view text) {
  const std::string temporary = path + ".tmp";
  {
    const int fd =
        open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(absl::StrCat("creating ", temporary));
    const absl::Cleanup close_fd = [fd] { close(fd); };
    WEIR_RETURN_IF_ERROR(WriteAll(fd, text, temporary));
    if (fsync(fd) != 0) {
      return ErrnoStatus(absl::StrCat("fsync of ", temporary));
    }
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("renaming ", temporary, " to ", path));
  }
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  return SyncPath(folder, O_RDONLY | O_DIRECTORY);
}

}  // namespace

absl::StatusOr<EpochChoice> NextEpoch(const std::string& path, absl::Time now,
                                      uint64_t floor) {
  EpochChoice choice;
  const uint64_t clock =
      static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixNanos(now)));
  uint64_t last = 0;
  std::ifstream in(path);
  if (in.is_open()) {
    std::stringstream text;
    text << in.rdbuf();
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.str()), &last)) {
      choice.file_damaged = true;
      last = 0;
    }
  } else if (errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("reading ", path));
  }
  choice.epoch = std::max(clock, floor);
  if (last != 0 && last >= choice.epoch) {
    choice.epoch = last + 1;
    choice.clock_behind = last >= clock;
  }
  WEIR_RETURN_IF_ERROR(WriteDurably(path, absl::StrCat(choice.epoch, "\n")));
  return choice;
}

}  // namespace weir::collector
