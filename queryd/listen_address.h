// A listening address as --grpc-address and --http-address give it
// (host:port, [v6]:port, or :port for every address), split and resolved
// once for every listener and check that binds it.
#ifndef WEIR_QUERYD_LISTEN_ADDRESS_H_
#define WEIR_QUERYD_LISTEN_ADDRESS_H_

#include <netdb.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace weir::queryd {

struct ListenAddress {
  std::string host;  // without brackets; "" for every address
  std::string port;
};

// Splits `address` at its last colon. The error's message is the reason
// alone ("not host:port"): callers name the flag.
absl::StatusOr<ListenAddress> SplitListenAddress(const std::string& address);

using ResolvedAddresses = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

// What a passive TCP socket on `address` binds: every address its host
// resolves to (both families for an empty host), the port numeric. The
// error's message is getaddrinfo's reason alone.
absl::StatusOr<ResolvedAddresses> ResolveListenAddress(
    const ListenAddress& address);

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_LISTEN_ADDRESS_H_
