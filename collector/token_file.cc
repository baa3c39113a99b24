#include "collector/token_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace weir::collector {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("--token-file: cannot read ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  const absl::string_view token = absl::StripAsciiWhitespace(text);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file: ", path, " is empty"));
  }
  for (char c : token) {
    if (absl::ascii_isspace(c) || !absl::ascii_isprint(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", path,
                       " must hold one token (printable, without spaces)"));
    }
  }
  return std::string(token);
}

}  // namespace weir::collector
