// An address block such as 192.0.2.0/24 or 2001:db8::/32, as used in flow
// filters and allowlists.

#ifndef WEIR_COMMON_CIDR_H_
#define WEIR_COMMON_CIDR_H_

#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"

namespace weir {

// A network address and a prefix length, kept the way IpAddress keeps IPv4:
// on the IPv4-mapped address, so an IPv4 /24 is /120 internally. An IPv4
// block therefore never contains an IPv6 address, "0.0.0.0/0" is every IPv4
// address and no IPv6 one, and "::/0" is everything.
class Cidr {
 public:
  // Parses "192.0.2.0/24", "2001:db8::/32", or a bare address, which means
  // /32 or /128. The address follows IpAddress::Parse; the prefix length is
  // decimal without sign or leading zero, 0-32 after an IPv4 address and
  // 0-128 after an IPv6 one. Bits past the prefix must be zero: a filter
  // written as 192.0.2.1/24 is more likely a typo than a wish for
  // 192.0.2.0/24, so it is refused with a suggestion. Errors are
  // INVALID_ARGUMENT and read `invalid CIDR "10.0.0.0/33": ...`.
  static absl::StatusOr<Cidr> Parse(absl::string_view text);

  // The first address of the block; bits past the prefix are zero.
  const IpAddress& network() const { return network_; }

  // In IPv6 bits: 120 for an IPv4 /24.
  int prefix_len() const { return prefix_len_; }

  bool Contains(const IpAddress& address) const;

  // "192.0.2.0/24" when the network is IPv4 (also when parsed from
  // "::ffff:192.0.2.0/120"), else "2001:db8::/32".
  std::string ToString() const;

  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.prefix_len_ == b.prefix_len_ && a.network_ == b.network_;
  }
  friend bool operator!=(const Cidr& a, const Cidr& b) { return !(a == b); }

 private:
  Cidr(const IpAddress& network, int prefix_len)
      : network_(network), prefix_len_(prefix_len) {}

  IpAddress network_;
  int prefix_len_;
};

// Writes ToString(), so test failures and logs show text.
std::ostream& operator<<(std::ostream& out, const Cidr& cidr);

}  // namespace weir

#endif  // WEIR_COMMON_CIDR_H_
