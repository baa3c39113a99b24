#include "common/status_util.h"

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace weir {
namespace {

// The kernel's MAX_ERRNO: a negative return value at or above -4095 is an
// errno, anything below is some other kind of value.
constexpr int kMaxErrno = 4095;

constexpr size_t kMaxQuotedBytes = 64;

}  // namespace

absl::Status LibbpfErrorToStatus(int err, absl::string_view what) {
  if (err >= 0) return absl::OkStatus();
  return LibbpfFailure(err, what);
}

absl::Status LibbpfFailure(int err, absl::string_view what) {
  if (err == 0 || err < -kMaxErrno || err > kMaxErrno) {
    return absl::UnknownError(
        absl::StrCat(what, ": unexpected libbpf return value ", err));
  }
  return absl::ErrnoToStatus(err < 0 ? -err : err, what);
}

absl::Status ErrnoStatus(absl::string_view what) {
  const int error_number = errno;
  if (error_number == 0) {
    return absl::UnknownError(absl::StrCat(what, ": failed without errno"));
  }
  return absl::ErrnoToStatus(error_number, what);
}

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status annotated(status.code(),
                         status.message().empty()
                             ? std::string{context}
                             : absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&annotated](absl::string_view type_url, const absl::Cord& payload) {
        annotated.SetPayload(type_url, payload);
      });
  return annotated;
}

std::string QuoteForError(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) {
    return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)),
                      "\"... (", text.size(), " bytes)");
}

}  // namespace weir
