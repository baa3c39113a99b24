// Accepts the HTTP front's connections, each on its own strand, and hands
// them to ServeHttpConnection (http_session.h), unless the peer is not
// allowed or a connection cap is reached: then the socket is closed before
// any byte of it is read. Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_LISTENER_H_
#define WEIR_QUERYD_HTTP_LISTENER_H_

#include <memory>

#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "queryd/http/server_context.h"

namespace weir::queryd::http {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // `acceptor` listens already; `ctx` outlives the listener.
  Listener(net::io_context& ioc, tcp::acceptor acceptor,
           const ServerContext& ctx);

  // Accepts the next connection, and so on until Close(). A failed accept
  // (out of descriptors or similar) is retried shortly rather than spun on,
  // and so is the accept itself while too many descriptors are open.
  void Accept();
  // Stops accepting; connections already accepted carry on.
  void Close();

 private:
  // Accept() again in 100 ms: after a failed accept, or while the process
  // holds too many descriptors (HttpServerOptions::max_open_descriptors).
  void RetryAccept();

  // TLS: the handshake, then ServeHttpConnection.
  void Handshake(tcp::socket&& socket, ConnectionSlot slot);

  // The connection's slot, or null when it was refused (outside
  // --allowed-ips, or a connection cap reached) and closed unread.
  ConnectionSlot Admit(tcp::socket& socket);

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  const ServerContext& ctx_;
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_LISTENER_H_
