#include "common/source_allowlist.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace weir {

absl::StatusOr<SourceAllowlist> SourceAllowlist::Parse(absl::string_view flag,
                                                       absl::string_view text) {
  SourceAllowlist list;
  if (absl::StripAsciiWhitespace(text).empty()) return list;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": empty item in \"", text, "\""));
    }
    absl::StatusOr<Cidr> cidr = Cidr::Parse(item);
    if (!cidr.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", cidr.status().message()));
    }
    list.blocks_.push_back(*cidr);
  }
  return list;
}

bool SourceAllowlist::Allows(const IpAddress& peer) const {
  if (blocks_.empty()) return true;
  for (const Cidr& block : blocks_) {
    if (block.Contains(peer)) return true;
  }
  return false;
}

bool SourceAllowlist::Allows(const sockaddr* peer, socklen_t length) const {
  if (blocks_.empty()) return true;
  if (peer == nullptr) return false;
  if (peer->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in v4;
    std::memcpy(&v4, peer, sizeof(v4));
    return Allows(IpAddress::FromIpv4(ntohl(v4.sin_addr.s_addr)));
  }
  if (peer->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 v6;
    std::memcpy(&v6, peer, sizeof(v6));
    // 16 bytes; an IPv4-mapped address comes out as that IPv4 address.
    absl::StatusOr<IpAddress> address = IpAddress::FromBytes(
        absl::MakeConstSpan(v6.sin6_addr.s6_addr, sizeof(v6.sin6_addr)));
    return address.ok() && Allows(*address);
  }
  return false;
}

std::string SourceAllowlist::ToString() const {
  return absl::StrJoin(blocks_, ",", [](std::string* out, const Cidr& cidr) {
    out->append(cidr.ToString());
  });
}

}  // namespace weir
