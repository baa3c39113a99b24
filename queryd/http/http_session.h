// One HTTP connection: requests one after another (keep-alive), each a
// unary call, /metrics, a CORS preflight, an NDJSON stream (which ends the
// connection) or an upgrade handed to a WebSocket stream
// (websocket_session.h). Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_HTTP_SESSION_H_
#define WEIR_QUERYD_HTTP_HTTP_SESSION_H_

#include "queryd/http/server_context.h"

namespace weir::queryd::http {

// Serves the accepted `stream` (TLS handshake done) until the client or the
// server ends it. `slot` is held until the connection ends.
void ServeHttpConnection(HttpStream&& stream, const ServerContext& ctx,
                         ConnectionSlot slot);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_HTTP_SESSION_H_
