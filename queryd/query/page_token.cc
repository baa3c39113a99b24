#include "queryd/query/page_token.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace weir::query {
namespace {

constexpr size_t kHeaderSize = 1 + 8 + 8 + 8;
constexpr size_t kKeyHeaderSize = 1 + 8;

void PutU64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t GetU64(absl::string_view in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(in[i]);
  }
  return value;
}

uint64_t ToNanos(absl::Time t) {
  return static_cast<uint64_t>(absl::ToUnixNanos(t));
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("page_token: not a token of this API (", why,
                   "); pass next_page_token of the previous page unchanged"));
}

// The raw bytes of a token of `version`, at least `min_size` of them.
absl::StatusOr<std::string> Unwrap(absl::string_view text, uint8_t version,
                                   size_t min_size) {
  if (text.size() > kMaxPageTokenSize) {
    return Malformed(
        absl::StrCat(text.size(), " characters, at most ", kMaxPageTokenSize));
  }
  std::string raw;
  if (!absl::WebSafeBase64Unescape(text, &raw)) {
    return Malformed("not base64url");
  }
  if (raw.empty()) return Malformed("0 bytes");
  const uint8_t got = static_cast<uint8_t>(raw[0]);
  if (got != version) {
    return Malformed(
        absl::StrCat("version ", static_cast<int>(got),
                     got == kPageTokenVersion      ? ", a ListFlows token"
                     : got == kKeyPageTokenVersion ? ", a ListConnections token"
                                                   : ""));
  }
  if (raw.size() < min_size) {
    return Malformed(absl::StrCat(raw.size(), " bytes"));
  }
  return raw;
}

}  // namespace

std::string EncodePageToken(const PageToken& token) {
  std::string raw;
  raw.reserve(kHeaderSize + token.cursor.size());
  raw.push_back(static_cast<char>(kPageTokenVersion));
  PutU64(token.fingerprint, &raw);
  PutU64(ToNanos(token.range.start), &raw);
  PutU64(ToNanos(token.range.end), &raw);
  raw.append(token.cursor);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageToken> DecodePageToken(absl::string_view text) {
  WEIR_ASSIGN_OR_RETURN(std::string raw,
                        Unwrap(text, kPageTokenVersion, kHeaderSize + 1));
  const absl::string_view in(raw);
  const uint64_t start = GetU64(in.substr(9));
  const uint64_t end = GetU64(in.substr(17));
  constexpr uint64_t kMaxNanos = std::numeric_limits<int64_t>::max();
  if (start > kMaxNanos || end > kMaxNanos || start >= end) {
    return Malformed("bad window");
  }
  PageToken token;
  token.fingerprint = GetU64(in.substr(1));
  token.range.start = absl::FromUnixNanos(static_cast<int64_t>(start));
  token.range.end = absl::FromUnixNanos(static_cast<int64_t>(end));
  token.cursor = std::string{in.substr(kHeaderSize)};
  return token;
}

std::string EncodeKeyPageToken(const KeyPageToken& token) {
  std::string raw;
  raw.reserve(1 + 8 + token.after.size());
  raw.push_back(static_cast<char>(kKeyPageTokenVersion));
  PutU64(token.fingerprint, &raw);
  raw.append(token.after);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<KeyPageToken> DecodeKeyPageToken(absl::string_view text) {
  WEIR_ASSIGN_OR_RETURN(std::string raw,
                        Unwrap(text, kKeyPageTokenVersion, kKeyHeaderSize + 1));
  const absl::string_view in(raw);
  KeyPageToken token;
  token.fingerprint = GetU64(in.substr(1));
  token.after = std::string{in.substr(kKeyHeaderSize)};
  return token;
}

uint64_t QueryFingerprint(const google::protobuf::Message& query) {
  // The message's type first, so equal bytes of different queries differ.
  std::string bytes = query.GetDescriptor()->full_name();
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    query.SerializeToCodedStream(&coded);
  }
  // FNV-1a, 64 bits: stable everywhere, unlike absl::Hash, whose seed
  // changes from process to process. Not a defence against forgery (see
  // page_token.h), only against a token reused with another query.
  uint64_t hash = 14695981039346656037ull;
  for (char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace weir::query
