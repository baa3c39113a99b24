// A WebSocket stream on a path of a server-streaming method: the upgrade
// an HttpSession read, accepted once the call has a first message or has
// ended (StreamRelay), then one text frame per message and a close code
// for the end. Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_WEBSOCKET_SESSION_H_
#define WEIR_QUERYD_HTTP_WEBSOCKET_SESSION_H_

#include "absl/time/time.h"
#include "queryd/http/gateway.h"
#include "queryd/http/server_context.h"

namespace weir::queryd::http {

// Takes over `stream` (whose upgrade `request` was read at `started`) and
// relays `prepared`'s call on it until the call or the client ends,
// holding the connection's and the stream's slots until then.
void StartWebSocketStream(HttpStream&& stream, const ServerContext& ctx,
                          Request request, const Gateway::Prepared& prepared,
                          const Metadata& metadata, absl::Time started,
                          ConnectionSlot connection,
                          std::unique_ptr<PeerCounter::Slot> stream_slot);

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_WEBSOCKET_SESSION_H_
