#include "common/ip_address.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "common/status_util.h"

namespace weir {
namespace {

using Bytes = IpAddress::Bytes;

// The longest address text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
constexpr size_t kMaxTextLength = 45;

// The parsing helpers below return INVALID_ARGUMENT with only the reason, for
// Parse to put after `invalid IP address "<text>": `.

std::string UnexpectedCharacter(char c) {
  return absl::StrCat("unexpected character '",
                      absl::CHexEscape(absl::string_view(&c, 1)), "'");
}

Bytes MapIpv4(uint32_t host_order) {
  Bytes bytes{};
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes[12] = static_cast<uint8_t>(host_order >> 24);
  bytes[13] = static_cast<uint8_t>(host_order >> 16);
  bytes[14] = static_cast<uint8_t>(host_order >> 8);
  bytes[15] = static_cast<uint8_t>(host_order);
  return bytes;
}

// The four bytes at `p`, in network byte order, as a host-order number.
uint32_t LoadIpv4(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
         uint32_t{p[3]};
}

absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text) {
  for (const char c : text) {
    if (!absl::ascii_isdigit(c) && c != '.') {
      return absl::InvalidArgumentError(UnexpectedCharacter(c));
    }
  }
  const std::vector<absl::string_view> octets = absl::StrSplit(text, '.');
  for (size_t i = 0; i < octets.size(); ++i) {
    if (octets[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("octet ", i + 1, " is empty"));
    }
  }
  if (octets.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected 4 octets, got ", octets.size()));
  }
  uint32_t address = 0;
  for (const absl::string_view octet : octets) {
    if (octet.size() > 1 && octet[0] == '0') {
      return absl::InvalidArgumentError(absl::StrCat(
          "octet ", octet, " has a leading zero (octal is not accepted)"));
    }
    uint32_t value = 0;
    // Three digits cannot overflow; more are out of range anyway.
    if (octet.size() <= 3) {
      for (const char c : octet) value = value * 10 + (c - '0');
    }
    if (octet.size() > 3 || value > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("octet ", octet, " out of range"));
    }
    address = address << 8 | value;
  }
  return address;
}

// Appends the 16-bit groups of `part`, a ':'-separated run of groups with no
// "::" inside, to `groups`. A dotted IPv4 address may end the part when the
// part ends the address (`is_last`); it counts as two groups.
absl::Status ParseGroups(absl::string_view part, bool is_last,
                         std::vector<uint16_t>& groups) {
  if (part.empty()) return absl::OkStatus();
  const std::vector<absl::string_view> pieces = absl::StrSplit(part, ':');
  for (size_t i = 0; i < pieces.size(); ++i) {
    const absl::string_view piece = pieces[i];
    // ParseIpv6 has ruled out ":::" and a second "::", so an empty piece can
    // only be at either end of the whole address.
    if (piece.empty()) {
      return absl::InvalidArgumentError(i == 0 ? "starts with a single ':'"
                                               : "ends with a single ':'");
    }
    if (absl::StrContains(piece, '.')) {
      if (!is_last || i + 1 != pieces.size()) {
        return absl::InvalidArgumentError(
            "an embedded IPv4 address must come last");
      }
      WEIR_ASSIGN_OR_RETURN(const uint32_t ipv4, ParseIpv4(piece));
      groups.push_back(static_cast<uint16_t>(ipv4 >> 16));
      groups.push_back(static_cast<uint16_t>(ipv4));
      continue;
    }
    if (piece.size() > 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("group ", piece, " has more than 4 hex digits"));
    }
    uint16_t value = 0;
    for (const char c : piece) {
      const int digit =
          absl::ascii_isdigit(c) ? c - '0' : absl::ascii_tolower(c) - 'a' + 10;
      value = static_cast<uint16_t>(value << 4 | digit);
    }
    groups.push_back(value);
  }
  return absl::OkStatus();
}

absl::StatusOr<Bytes> ParseIpv6(absl::string_view text) {
  for (const char c : text) {
    if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') {
      return absl::InvalidArgumentError(UnexpectedCharacter(c));
    }
  }
  if (absl::StrContains(text, ":::")) {
    return absl::InvalidArgumentError("\":::\" is not valid");
  }
  const size_t gap = text.find("::");
  if (gap != absl::string_view::npos &&
      text.find("::", gap + 2) != absl::string_view::npos) {
    return absl::InvalidArgumentError("more than one \"::\"");
  }

  std::vector<uint16_t> head;
  std::vector<uint16_t> tail;
  if (gap == absl::string_view::npos) {
    WEIR_RETURN_IF_ERROR(ParseGroups(text, /*is_last=*/true, head));
    if (head.size() != 8) {
      return absl::InvalidArgumentError(
          absl::StrContains(text, '.')
              ? absl::StrCat("expected 6 groups before the IPv4 part, got ",
                             head.size() - 2)
              : absl::StrCat("expected 8 groups, got ", head.size()));
    }
  } else {
    WEIR_RETURN_IF_ERROR(
        ParseGroups(text.substr(0, gap), /*is_last=*/false, head));
    WEIR_RETURN_IF_ERROR(
        ParseGroups(text.substr(gap + 2), /*is_last=*/true, tail));
    // RFC 4291: "::" stands for one or more zero groups.
    if (head.size() + tail.size() > 7) {
      return absl::InvalidArgumentError(
          "too many groups to leave room for \"::\"");
    }
  }

  Bytes bytes{};
  const auto put = [&bytes](size_t index, uint16_t group) {
    bytes[2 * index] = static_cast<uint8_t>(group >> 8);
    bytes[2 * index + 1] = static_cast<uint8_t>(group);
  };
  for (size_t i = 0; i < head.size(); ++i) put(i, head[i]);
  for (size_t i = 0; i < tail.size(); ++i) put(8 - tail.size() + i, tail[i]);
  return bytes;
}

absl::StatusOr<Bytes> ParseText(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty");
  if (text.size() > kMaxTextLength) {
    return absl::InvalidArgumentError("longer than any IP address");
  }
  if (absl::ascii_isspace(text.front()) || absl::ascii_isspace(text.back())) {
    return absl::InvalidArgumentError("leading or trailing whitespace");
  }
  const size_t zone = text.find('%');
  if (zone != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "zone id ", QuoteForError(text.substr(zone)), " is not supported"));
  }
  if (absl::StrContains(text, ':')) return ParseIpv6(text);
  WEIR_ASSIGN_OR_RETURN(const uint32_t ipv4, ParseIpv4(text));
  return MapIpv4(ipv4);
}

// IPv4 ranges with a class other than public; none overlap.
struct Ipv4Range {
  uint32_t network;
  int prefix_len;
  AddressClass address_class;
};

constexpr Ipv4Range kIpv4Ranges[] = {
    {0x7f000000, 8, AddressClass::kLoopback},        // 127.0.0.0/8
    {0x0a000000, 8, AddressClass::kPrivate},         // 10.0.0.0/8
    {0xac100000, 12, AddressClass::kPrivate},        // 172.16.0.0/12
    {0xc0a80000, 16, AddressClass::kPrivate},        // 192.168.0.0/16
    {0x64400000, 10, AddressClass::kPrivate},        // 100.64.0.0/10
    {0xa9fe0000, 16, AddressClass::kLinkLocal},      // 169.254.0.0/16
    {0xe0000000, 4, AddressClass::kMulticast},       // 224.0.0.0/4
    {0xc0000200, 24, AddressClass::kDocumentation},  // 192.0.2.0/24
    {0xc6336400, 24, AddressClass::kDocumentation},  // 198.51.100.0/24
    {0xcb007100, 24, AddressClass::kDocumentation},  // 203.0.113.0/24
};

AddressClass ClassifyIpv4(uint32_t address) {
  if (address == 0) return AddressClass::kUnspecifiedAddress;
  // The limited broadcast address counts as multicast, as the proto says.
  if (address == 0xffffffff) return AddressClass::kMulticast;
  for (const Ipv4Range& range : kIpv4Ranges) {
    const int shift = 32 - range.prefix_len;
    if (address >> shift == range.network >> shift) return range.address_class;
  }
  return AddressClass::kPublic;
}

}  // namespace

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  absl::StatusOr<Bytes> bytes = ParseText(text);
  if (!bytes.ok()) {
    return Annotate(bytes.status(),
                    absl::StrCat("invalid IP address ", QuoteForError(text)));
  }
  return IpAddress(*bytes);
}

absl::StatusOr<IpAddress> IpAddress::FromBytes(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() == 4) {
    return FromIpv4(LoadIpv4(bytes.data()));
  }
  if (bytes.size() == 16) {
    Bytes copy;
    std::copy(bytes.begin(), bytes.end(), copy.begin());
    return IpAddress(copy);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid IP address: ", bytes.size(),
                   " bytes, expected 4 (IPv4) or 16 (IPv6)"));
}

IpAddress IpAddress::FromIpv4(uint32_t host_order) {
  return IpAddress(MapIpv4(host_order));
}

bool IpAddress::is_ipv4() const {
  for (size_t i = 0; i < 10; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return bytes_[10] == 0xff && bytes_[11] == 0xff;
}

std::string IpAddress::ToString() const {
  if (is_ipv4()) {
    return absl::StrCat(bytes_[12], ".", bytes_[13], ".", bytes_[14], ".",
                        bytes_[15]);
  }
  uint16_t groups[8];
  for (size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  }
  // RFC 5952 section 4.2: compress the longest run of two or more zero
  // groups, the first one when runs tie.
  int gap_start = -1;
  int gap_len = 1;
  for (int i = 0; i < 8; ++i) {
    if (groups[i] != 0) continue;
    int end = i + 1;
    while (end < 8 && groups[end] == 0) ++end;
    if (end - i > gap_len) {
      gap_start = i;
      gap_len = end - i;
    }
    i = end;  // groups[end], if any, is not zero.
  }
  std::string text;
  for (int i = 0; i < 8; ++i) {
    if (i == gap_start) {
      text += "::";
      i += gap_len - 1;
      continue;
    }
    if (!text.empty() && text.back() != ':') text += ':';
    absl::StrAppend(&text, absl::Hex(groups[i]));
  }
  return text;
}

std::ostream& operator<<(std::ostream& out, const IpAddress& address) {
  return out << address.ToString();
}

AddressClass Classify(const IpAddress& address) {
  if (address.is_ipv4()) return ClassifyIpv4(LoadIpv4(&address.bytes()[12]));
  const Bytes& b = address.bytes();
  static constexpr Bytes kUnspecifiedBytes{};
  static constexpr Bytes kLoopbackBytes{0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 1};
  if (b == kUnspecifiedBytes) return AddressClass::kUnspecifiedAddress;
  if (b == kLoopbackBytes) return AddressClass::kLoopback;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {  // fe80::/10
    return AddressClass::kLinkLocal;
  }
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;  // fc00::/7
  if (b[0] == 0xff) return AddressClass::kMulticast;         // ff00::/8
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return AddressClass::kDocumentation;  // 2001:db8::/32
  }
  return AddressClass::kPublic;
}

absl::string_view AddressClassName(AddressClass address_class) {
  switch (address_class) {
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kPublic:
      return "public";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kUnspecifiedAddress:
      return "unspecified";
    case AddressClass::kDocumentation:
      return "documentation";
    case AddressClass::kUnspecified:
      break;
  }
  return "unclassified";
}

}  // namespace weir
