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
        if (ConnectionSlot slot = self->Admit(socket)) {
          if (self->ctx_.tls == nullptr) {
            ServeHttpConnection(HttpStream(std::move(socket)), self->ctx_,
                                std::move(slot));
          } else {
            self->Handshake(std::move(socket), std::move(slot));
          }
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

void Listener::Handshake(tcp::socket&& socket, ConnectionSlot slot) {
  // The context of now: a reload after this leaves the connection alone.
  auto stream =
      std::make_shared<HttpStream>(std::move(socket), ctx_.tls->Current());
  // A client that does not finish its handshake in time is cut off.
  stream->expires_after(Chrono(ctx_.options.read_timeout));
  stream->tls()->async_handshake(
      net::ssl::stream_base::server,
      [self = shared_from_this(), stream,
       slot = std::move(slot)](const beast::error_code& ec) mutable {
        if (ec) {
          // Plaintext, a client that does not trust us, an old protocol.
          stream->close();
          return;
        }
        ServeHttpConnection(std::move(*stream), self->ctx_, std::move(slot));
      });
}

ConnectionSlot Listener::Admit(tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  auto refuse = [&socket, this](absl::string_view reason,
                                absl::string_view limit) -> ConnectionSlot {
    beast::error_code ignored;
    socket.close(ignored);
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ConnectionRefused("http", reason);
      if (!limit.empty()) ctx_.metrics->LimitHit(limit);
    }
    return nullptr;
  };
  if (ec) {  // gone already
    beast::error_code ignored;
    socket.close(ignored);
    return nullptr;
  }
  if (!ctx_.options.allowed_ips.Allows(peer.data(),
                                       static_cast<socklen_t>(peer.size()))) {
    return refuse("allowlist", "");
  }
  PeerCounter::Refusal refusal;
  std::unique_ptr<PeerCounter::Slot> slot =
      ctx_.connections->Acquire(PeerKey(peer), &refusal);
  if (slot == nullptr) {
    return refuse("connections", refusal == PeerCounter::Refusal::kTotal
                                     ? "connections"
                                     : "connections_per_peer");
  }
  return ConnectionSlot(std::move(slot));
}

void Listener::Close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()]() {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_.cancel();
  });
}

}  // namespace weir::queryd::http
