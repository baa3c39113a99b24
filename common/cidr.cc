#include "common/cidr.h"

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"
#include "common/status_util.h"

namespace weir {
namespace {

// The longest address (45 characters) and "/128".
constexpr size_t kMaxTextLength = 49;

// Bits of the IPv4-mapped prefix ::ffff:0:0/96.
constexpr int kIpv4MappedBits = 96;

// `bytes` with every bit past the first `prefix_len` cleared.
IpAddress::Bytes Masked(const IpAddress::Bytes& bytes, int prefix_len) {
  IpAddress::Bytes masked{};
  const int full_bytes = prefix_len / 8;
  for (int i = 0; i < full_bytes; ++i) masked[i] = bytes[i];
  if (const int rest = prefix_len % 8; rest != 0) {
    masked[full_bytes] =
        bytes[full_bytes] & static_cast<uint8_t>(0xff << (8 - rest));
  }
  return masked;
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(absl::string_view text) {
  const auto invalid = [text](absl::string_view reason) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid CIDR ", QuoteForError(text), ": ", reason));
  };
  if (text.empty()) return invalid("empty");
  if (text.size() > kMaxTextLength) return invalid("longer than any CIDR");
  if (absl::ascii_isspace(text.front()) || absl::ascii_isspace(text.back())) {
    return invalid("leading or trailing whitespace");
  }

  const size_t slash = text.find('/');
  const absl::string_view address_text = text.substr(0, slash);
  if (address_text.empty()) return invalid("missing address before '/'");
  const absl::StatusOr<IpAddress> address = IpAddress::Parse(address_text);
  if (!address.ok()) {
    return Annotate(address.status(),
                    absl::StrCat("invalid CIDR ", QuoteForError(text)));
  }
  // The text decides the family: "::ffff:192.0.2.0" takes an IPv6 length.
  const bool ipv4 = address_text.find(':') == absl::string_view::npos;
  const int max_len = ipv4 ? 32 : 128;

  int len = max_len;
  if (slash != absl::string_view::npos) {
    const absl::string_view len_text = text.substr(slash + 1);
    if (len_text.empty()) return invalid("missing prefix length after '/'");
    for (const char c : len_text) {
      if (!absl::ascii_isdigit(c)) {
        return invalid(absl::StrCat("prefix length ", QuoteForError(len_text),
                                    " is not a decimal number"));
      }
    }
    if (len_text.size() > 1 && len_text[0] == '0') {
      return invalid(
          absl::StrCat("prefix length ", len_text, " has a leading zero"));
    }
    len = 0;
    // Three digits cannot overflow; more are out of range anyway.
    if (len_text.size() <= 3) {
      for (const char c : len_text) len = len * 10 + (c - '0');
    }
    if (len_text.size() > 3 || len > max_len) {
      return invalid(absl::StrCat("prefix length ", len_text,
                                  " out of range for ", ipv4 ? "IPv4" : "IPv6",
                                  " (0-", max_len, ")"));
    }
  }

  const int prefix_len = ipv4 ? kIpv4MappedBits + len : len;
  const IpAddress::Bytes masked = Masked(address->bytes(), prefix_len);
  if (masked != address->bytes()) {
    const Cidr suggestion(*IpAddress::FromBytes(masked), prefix_len);
    return invalid(absl::StrCat("host bits set; did you mean ",
                                suggestion.ToString(), "?"));
  }
  return Cidr(*address, prefix_len);
}

bool Cidr::Contains(const IpAddress& address) const {
  return Masked(address.bytes(), prefix_len_) == network_.bytes();
}

std::string Cidr::ToString() const {
  if (network_.is_ipv4() && prefix_len_ >= kIpv4MappedBits) {
    return absl::StrCat(network_.ToString(), "/",
                        prefix_len_ - kIpv4MappedBits);
  }
  return absl::StrCat(network_.ToString(), "/", prefix_len_);
}

std::ostream& operator<<(std::ostream& out, const Cidr& cidr) {
  return out << cidr.ToString();
}

}  // namespace weir
