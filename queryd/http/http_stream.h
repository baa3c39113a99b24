// The byte stream of one HTTP connection: plain TCP, or TLS over TCP when
// queryd has --tls-cert. Sessions (http_session.cc, websocket_session.cc)
// are written once against it; the TCP stream underneath keeps the
// timeouts either way. Internal to http_server.
#ifndef WEIR_QUERYD_HTTP_HTTP_STREAM_H_
#define WEIR_QUERYD_HTTP_HTTP_STREAM_H_

#include <memory>
#include <optional>
#include <utility>

#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl/context.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/ssl.hpp"
#include "boost/beast/websocket.hpp"

namespace weir::queryd::http {

class HttpStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  // Plaintext.
  explicit HttpStream(boost::asio::ip::tcp::socket&& socket)
      : plain_(std::in_place, std::move(socket)) {}
  // TLS (the handshake is still to be done: tls()->async_handshake). The
  // connection keeps `context` for its life, so a reload that swaps the
  // server's context leaves it alone.
  HttpStream(boost::asio::ip::tcp::socket&& socket,
             std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)),
        tls_(std::in_place, std::move(socket), *context_) {}

  HttpStream(HttpStream&&) = default;
  HttpStream& operator=(HttpStream&&) = default;

  // The TCP stream, for timeouts and closing (and for get_lowest_layer).
  boost::beast::tcp_stream& next_layer() {
    return tls_.has_value() ? tls_->next_layer() : *plain_;
  }
  Tls* tls() { return tls_.has_value() ? &*tls_ : nullptr; }

  executor_type get_executor() { return next_layer().get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return next_layer().socket(); }
  template <class Duration>
  void expires_after(Duration d) {
    next_layer().expires_after(d);
  }
  void expires_never() { next_layer().expires_never(); }
  // Closes the TCP connection (no TLS close_notify: every response is
  // framed, so a cut is seen as one).
  void close() { next_layer().close(); }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    }
    return plain_->async_read_some(buffers, std::forward<Handler>(handler));
  }
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_.has_value()) {
      return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    }
    return plain_->async_write_some(buffers, std::forward<Handler>(handler));
  }

  // WebSocket close: each layer's own teardown (TLS: close_notify).
  friend void teardown(boost::beast::role_type role, HttpStream& stream,
                       boost::beast::error_code& ec) {
    using boost::beast::websocket::teardown;
    if (stream.tls_.has_value()) {
      teardown(role, *stream.tls_, ec);
    } else {
      teardown(role, stream.plain_->socket(), ec);
    }
  }
  template <class Handler>
  friend void async_teardown(boost::beast::role_type role, HttpStream& stream,
                             Handler&& handler) {
    using boost::beast::websocket::async_teardown;
    if (stream.tls_.has_value()) {
      async_teardown(role, *stream.tls_, std::forward<Handler>(handler));
    } else {
      async_teardown(role, *stream.plain_, std::forward<Handler>(handler));
    }
  }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<Tls> tls_;
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_HTTP_STREAM_H_
