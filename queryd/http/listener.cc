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
        ServeHttpConnection(std::move(socket), self->ctx_);
        self->Accept();
      });
}

void Listener::RetryAccept() {
  retry_.expires_after(std::chrono::milliseconds(100));
  retry_.async_wait([self = shared_from_this()](const beast::error_code& wait) {
    if (!wait) self->Accept();
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
