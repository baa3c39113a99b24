#include "queryd/http/request_checks.h"

#include <iterator>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace weir::queryd::http {
namespace {

namespace bhttp = boost::beast::http;

size_t Count(const bhttp::fields& head, bhttp::field field) {
  const auto range = head.equal_range(field);
  return static_cast<size_t>(std::distance(range.first, range.second));
}

absl::string_view Value(const bhttp::fields& head, bhttp::field field) {
  const auto it = head.find(field);
  if (it == head.end()) return "";
  return absl::string_view(it->value().data(), it->value().size());
}

}  // namespace

absl::Status CheckFraming(const bhttp::fields& head, unsigned version) {
  const size_t transfer_encodings =
      Count(head, bhttp::field::transfer_encoding);
  if (transfer_encodings > 0) {
    if (transfer_encodings > 1) {
      return absl::InvalidArgumentError(
          "more than one Transfer-Encoding header");
    }
    if (Count(head, bhttp::field::content_length) > 0) {
      return absl::InvalidArgumentError(
          "Transfer-Encoding and Content-Length together");
    }
    const absl::string_view coding = absl::StripAsciiWhitespace(
        Value(head, bhttp::field::transfer_encoding));
    if (!absl::EqualsIgnoreCase(coding, "chunked")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Transfer-Encoding \"", absl::CHexEscape(coding.substr(0, 64)),
          "\" is not supported; only \"chunked\" is"));
    }
  }
  const size_t hosts = Count(head, bhttp::field::host);
  if (hosts > 1) {
    return absl::InvalidArgumentError("more than one Host header");
  }
  if (hosts == 0 && version >= 11) {
    return absl::InvalidArgumentError(
        "missing Host header (required in HTTP/1.1)");
  }
  return absl::OkStatus();
}

absl::Status CheckWebSocketUpgrade(const bhttp::fields& head) {
  if (Count(head, bhttp::field::sec_websocket_key) != 1) {
    return absl::InvalidArgumentError(
        "a WebSocket upgrade needs exactly one Sec-WebSocket-Key header");
  }
  const std::string key(
      absl::StripAsciiWhitespace(Value(head, bhttp::field::sec_websocket_key)));
  std::string decoded;
  // Strict: 24 characters that decode to 16 bytes and encode back the same.
  if (key.size() != 24 || !absl::Base64Unescape(key, &decoded) ||
      decoded.size() != 16 || absl::Base64Escape(decoded) != key) {
    return absl::InvalidArgumentError(
        "Sec-WebSocket-Key must be the base64 of 16 bytes");
  }
  if (Count(head, bhttp::field::sec_websocket_version) != 1 ||
      absl::StripAsciiWhitespace(
          Value(head, bhttp::field::sec_websocket_version)) != "13") {
    return absl::InvalidArgumentError("Sec-WebSocket-Version must be 13");
  }
  return absl::OkStatus();
}

}  // namespace weir::queryd::http
