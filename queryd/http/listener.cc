#include "queryd/http/listener.h"

#include <chrono>
#include <utility>

#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "common/descriptors.h"
#include "queryd/http/http_session.h"

namespace weir::queryd::http {

Listener::Listener(net::io_context& ioc, tcp::acceptor acceptor,
                   const ServerContext& ctx)
    : ioc_(ioc),
      acceptor_(std::move(acceptor)),
      retry_(acceptor_.get_executor()),
      ctx_(ctx) {}

void Listener::Accept() {
  if (const int bound = ctx_.options.max_open_descriptors; bound > 0) {
    if (const int open = OpenDescriptors(); open < 0 || open + 1 >= bound) {
      // The rest are kept for the store: the connection waits queued.
      RetryAccept();
      return;
    }
  }
  acceptor_.async_accept(
      net::make_strand(ioc_),
      [self = shared_from_this()](const beast::error_code& ec,
                                  tcp::socket socket) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) {
          return;
        }
        if (ec) {
          self->RetryAccept();
          return;
        }
        if (self->ctx_.tls == nullptr) {
          ServeHttpConnection(HttpStream(std::move(socket)), self->ctx_);
        } else {
          self->Handshake(std::move(socket));
        }
        self->Accept();
      });
}

void Listener::RetryAccept() {
  retry_.expires_after(std::chrono::milliseconds(100));
  retry_.async_wait([self = shared_from_this()](const beast::error_code& wait) {
    if (!wait) self->Accept();
  });
}

void Listener::Handshake(tcp::socket&& socket) {
  // The context of now: a reload after this leaves the connection alone.
  auto stream =
      std::make_shared<HttpStream>(std::move(socket), ctx_.tls->Current());
  // A client that does not finish its handshake in time is cut off.
  stream->expires_after(Chrono(ctx_.options.read_timeout));
  stream->tls()->async_handshake(
      net::ssl::stream_base::server,
      [self = shared_from_this(), stream](const beast::error_code& ec) {
        if (ec) {
          // Plaintext, a client that does not trust us, an old protocol.
          stream->close();
          return;
        }
        ServeHttpConnection(std::move(*stream), self->ctx_);
      });
}

void Listener::Close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()]() {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
  });
}

}  // namespace weir::queryd::http
