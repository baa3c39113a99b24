#include "queryd/http/http_server.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "queryd/http/listener.h"
#include "queryd/http/server_context.h"
#include "queryd/listen_address.h"

// The server is four parts, bottom-up: server_context (what connections
// share), stream_relay (a server stream to a client, either transport),
// websocket_session and http_session (the transports), listener (accepts).

namespace weir::queryd::http {

struct HttpServer::Impl {
  std::unique_ptr<TlsContexts> tls;
  ServerContext ctx;
  std::unique_ptr<net::io_context> ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool stopped = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpServerOptions& options, Gateway* gateway,
    metrics::QuerydMetrics* metrics) {
  auto error = [&options](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on --http-address ", options.address, ": ", what));
  };
  const absl::StatusOr<ListenAddress> split =
      SplitListenAddress(options.address);
  if (!split.ok()) return error(split.status().message());

  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.ctx.options = options;
  impl.ctx.gateway = gateway;
  impl.ctx.metrics = metrics;
  if (options.tls_files != nullptr) {
    absl::StatusOr<std::unique_ptr<TlsContexts>> tls =
        TlsContexts::Create(options.tls_files);
    if (!tls.ok()) return tls.status();
    impl.tls = *std::move(tls);
    impl.ctx.tls = impl.tls.get();
  }
  impl.ctx.connections = std::make_unique<PeerCounter>(
      options.max_connections, options.max_connections_per_peer);
  impl.ctx.streams =
      std::make_unique<PeerCounter>(0, options.max_streams_per_peer);
  impl.ioc = std::make_unique<net::io_context>(std::max(1, options.threads));

  beast::error_code ec;
  tcp::resolver resolver(*impl.ioc);
  const auto endpoints = resolver.resolve(split->host, split->port, ec);
  if (ec || endpoints.empty()) return error(ec ? ec.message() : "no address");
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();

  tcp::acceptor acceptor(net::make_strand(*impl.ioc));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error(ec.message());
  server->port_ = acceptor.local_endpoint().port();

  impl.listener =
      std::make_shared<Listener>(*impl.ioc, std::move(acceptor), impl.ctx);
  impl.listener->Accept();
  impl.work.emplace(impl.ioc->get_executor());
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl.threads.emplace_back([ioc = impl.ioc.get()]() { ioc->run(); });
  }
  return server;
}

void HttpServer::Stop() {
  // (No listener: Start() failed before serving; nothing runs.)
  if (impl_ == nullptr || impl_->stopped || impl_->listener == nullptr) return;
  impl_->stopped = true;
  impl_->listener->Close();
  // Calls end first (their completions still reach the connections), then
  // the connections: whatever is left is destroyed with the io_context.
  impl_->ctx.gateway->Shutdown();
  // Streams write their end ({"error": ...} UNAVAILABLE, or a WebSocket
  // close 1001) on the still running threads; give them a moment.
  const absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (impl_->ctx.open_streams.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  impl_->work.reset();
  impl_->ioc->stop();
  for (std::thread& thread : impl_->threads) thread.join();
  impl_->threads.clear();
  impl_->listener.reset();
  impl_->ioc.reset();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace weir::queryd::http