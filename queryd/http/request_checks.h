// Checks of a request head that Beast's parser lets through but that a
// proxy in front could read another way (request smuggling), or that
// RFC 6455 requires of an upgrade. Each error is INVALID_ARGUMENT naming
// the header; the connection is answered 400 and closed. Internal to
// http_server.
#ifndef WEIR_QUERYD_HTTP_REQUEST_CHECKS_H_
#define WEIR_QUERYD_HTTP_REQUEST_CHECKS_H_

#include "absl/status/status.h"
#include "boost/beast/http/fields.hpp"

namespace weir::queryd::http {

// RFC 9112: Transfer-Encoding, if present, is exactly "chunked" (one
// header, one coding; case does not matter) and comes without
// Content-Length (§6.1, §6.3); an HTTP/1.1 request has exactly one Host
// (§3.2), an HTTP/1.0 one at most one.
absl::Status CheckFraming(const boost::beast::http::fields& head,
                          unsigned version);

// RFC 6455 §4.2.1: one Sec-WebSocket-Key, the base64 of 16 bytes, and
// Sec-WebSocket-Version 13.
absl::Status CheckWebSocketUpgrade(const boost::beast::http::fields& head);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_REQUEST_CHECKS_H_
