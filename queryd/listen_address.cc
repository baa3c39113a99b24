#include "queryd/listen_address.h"

#include <sys/socket.h>

namespace weir::queryd {

absl::StatusOr<ListenAddress> SplitListenAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("not host:port");
  }
  ListenAddress split{address.substr(0, colon), address.substr(colon + 1)};
  std::string& host = split.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return split;
}

absl::StatusOr<ResolvedAddresses> ResolveListenAddress(
    const ListenAddress& address) {
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  if (const int rc =
          getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(),
                      address.port.c_str(), &hints, &resolved);
      rc != 0) {
    return absl::UnavailableError(gai_strerror(rc));
  }
  return ResolvedAddresses(resolved, &freeaddrinfo);
}

}  // namespace weir::queryd
