// Weir's one address type: an IPv6 address, with IPv4 carried as
// IPv4-mapped IPv6 (::ffff:a.b.c.d), the way the kernel flow key and the
// store hold it. Text shows IPv4 as a dotted quad and IPv6 in RFC 5952 form.

#ifndef WEIR_COMMON_IP_ADDRESS_H_
#define WEIR_COMMON_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace weir {

class IpAddress {
 public:
  using Bytes = std::array<uint8_t, 16>;

  // The IPv6 unspecified address, "::".
  IpAddress() = default;

  // Parses an IPv4 dotted quad or an IPv6 address, strictly:
  // - IPv4: exactly four decimal octets 0-255, no sign, no leading zero
  //   ("01.2.3.4" could mean octal);
  // - IPv6: RFC 4291 text, including "::" and a dotted IPv4 tail
  //   ("::ffff:192.0.2.1"); hex digits in either case;
  // - no zone id ("fe80::1%eth0"), no surrounding whitespace, nothing longer
  //   than the longest address (45 characters).
  // Errors are INVALID_ARGUMENT and read
  // `invalid IP address "300.1.1.1": octet 300 out of range`; callers add
  // the field name.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);

  // Takes 4 bytes (IPv4) or 16 bytes (IPv6) in network byte order.
  static absl::StatusOr<IpAddress> FromBytes(absl::Span<const uint8_t> bytes);

  // An IPv4 address given in host byte order (0xc0000201 is 192.0.2.1).
  static IpAddress FromIpv4(uint32_t host_order);

  // The 16 bytes in network byte order; IPv4 as ::ffff:a.b.c.d.
  const Bytes& bytes() const { return bytes_; }

  // Whether this is an IPv4(-mapped) address.
  bool is_ipv4() const;

  // "192.0.2.1" for IPv4 (also when parsed from "::ffff:192.0.2.1"),
  // otherwise RFC 5952: lowercase hex, no leading zeros, the longest run of
  // two or more zero groups (the first of equal runs) as "::".
  std::string ToString() const;

  // Ordered by bytes, so every IPv4 address sorts inside ::ffff:0:0/96.
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ != b.bytes_;
  }
  friend bool operator<(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ < b.bytes_;
  }
  friend bool operator<=(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ <= b.bytes_;
  }
  friend bool operator>(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ > b.bytes_;
  }
  friend bool operator>=(const IpAddress& a, const IpAddress& b) {
    return a.bytes_ >= b.bytes_;
  }

  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& address) {
    return H::combine(std::move(h), address.bytes_);
  }

 private:
  explicit IpAddress(const Bytes& bytes) : bytes_(bytes) {}

  Bytes bytes_{};
};

// Writes ToString(), so test failures and logs show text.
std::ostream& operator<<(std::ostream& out, const IpAddress& address);

// What kind of address one side of a flow has. The numbers equal
// weir.v1.AddressClass in proto/weir/v1/flow.proto and are pinned: they
// cross the wire and reach disk. Never renumber; add to both together.
enum class AddressClass : uint8_t {
  kUnspecified = 0,  // Not classified.
  kPrivate = 1,
  kPublic = 2,
  kLoopback = 3,
  kLinkLocal = 4,
  kMulticast = 5,
  kUnspecifiedAddress = 6,  // 0.0.0.0 or ::.
  kDocumentation = 7,
};

// Classifies an address. IPv4 (and so IPv4-mapped IPv6):
//   0.0.0.0 unspecified address; 127/8 loopback; 10/8, 172.16/12,
//   192.168/16 and 100.64/10 (RFC 6598) private; 169.254/16 link-local;
//   224/4 and 255.255.255.255 multicast; 192.0.2/24, 198.51.100/24 and
//   203.0.113/24 documentation; everything else public.
// IPv6:
//   :: unspecified address; ::1 loopback; fe80::/10 link-local; fc00::/7
//   private; ff00::/8 multicast; 2001:db8::/32 documentation; everything
//   else public.
// Never returns kUnspecified.
AddressClass Classify(const IpAddress& address);

// "private", "public", "loopback", "link-local", "multicast", "unspecified"
// (for kUnspecifiedAddress) or "documentation"; "unclassified" for
// kUnspecified and for values outside the enum (from a newer peer).
absl::string_view AddressClassName(AddressClass address_class);

}  // namespace weir

#endif  // WEIR_COMMON_IP_ADDRESS_H_
