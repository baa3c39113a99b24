// Which peers may connect to a listener: a list of address blocks
// (--allowed-ips). An empty list allows everyone. A peer that reaches an
// IPv6 socket from IPv4 (::ffff:192.0.2.2) is the IPv4 address it maps, so
// it matches IPv4 blocks, as IpAddress and Cidr keep IPv4.

#ifndef WEIR_COMMON_SOURCE_ALLOWLIST_H_
#define WEIR_COMMON_SOURCE_ALLOWLIST_H_

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cidr.h"
#include "common/ip_address.h"

namespace weir {

class SourceAllowlist {
 public:
  // Everyone.
  SourceAllowlist() = default;

  // Comma-separated blocks ("192.0.2.0/24,2001:db8::/32"; a bare address is
  // one host); spaces around items are ignored, empty items are refused.
  // "" is everyone. Errors are INVALID_ARGUMENT and start with `flag`
  // ("--allowed-ips: invalid CIDR ...").
  static absl::StatusOr<SourceAllowlist> Parse(absl::string_view flag,
                                               absl::string_view text);

  // No block: every peer is allowed.
  bool allows_everyone() const { return blocks_.empty(); }

  bool Allows(const IpAddress& peer) const;
  // A peer as accept() or getpeername() gives it. Anything that is not
  // AF_INET or AF_INET6 (a Unix socket) is allowed only by an empty list.
  bool Allows(const sockaddr* peer, socklen_t length) const;

  const std::vector<Cidr>& blocks() const { return blocks_; }
  // "192.0.2.0/24,2001:db8::/32", or "" for everyone.
  std::string ToString() const;

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace weir

#endif  // WEIR_COMMON_SOURCE_ALLOWLIST_H_
