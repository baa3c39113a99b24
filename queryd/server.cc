#include "queryd/server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/descriptors.h"
#include "common/status_macros.h"
#include "grpc/grpc.h"
#include "queryd/listen_address.h"
#include "queryd/tls_server_credentials.h"

namespace weir::queryd {
namespace {

// Binds each address `address` resolves to, as the listener will (with
// SO_REUSEADDR, without SO_REUSEPORT), and lets it go: a port another
// process listens on is then one clear line before the store opens, rather
// than a gRPC log entry after. Only EADDRINUSE is reported here; other
// failures are left to the listener, whose message says more.
absl::Status CheckPortFree(absl::string_view flag, const std::string& address) {
  const absl::StatusOr<ListenAddress> split = SplitListenAddress(address);
  if (!split.ok() || split->port == "0") return absl::OkStatus();
  const absl::StatusOr<ResolvedAddresses> resolved =
      ResolveListenAddress(*split);
  if (!resolved.ok()) return absl::OkStatus();
  bool in_use = false;
  for (addrinfo* a = resolved->get(); a != nullptr && !in_use; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    in_use = bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE;
    close(fd);
  }
  if (in_use) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", flag, " ",
                                               address, ": port ", split->port,
                                               " is already in use"));
  }
  return absl::OkStatus();
}

// The listener's own list when its flag is set, else --allowed-ips.
absl::StatusOr<SourceAllowlist> ListenerAllowlist(absl::string_view flag,
                                                  const std::string& own,
                                                  const std::string& common) {
  if (!own.empty()) return SourceAllowlist::Parse(flag, own);
  return SourceAllowlist::Parse("--allowed-ips", common);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::BuildAndStart(
    const QuerydOptions& options) {
  // Before the store opens: a second queryd on these ports must not start.
  for (const auto& [flag, address] :
       {std::pair<absl::string_view, const std::string&>{"--grpc-address",
                                                         options.grpc_address},
        {"--http-address", options.http_address}}) {
    WEIR_RETURN_IF_ERROR(CheckPortFree(flag, address));
  }
  std::unique_ptr<Server> server(new Server());
  if (!options.token_file.empty()) {
    auth::AuthorizerOptions auth_options;
    auth_options.token_file = options.token_file;
    WEIR_ASSIGN_OR_RETURN(server->authorizer_,
                          auth::Authorizer::Open(std::move(auth_options)));
  }
  if (!options.tls_cert.empty()) {
    WEIR_ASSIGN_OR_RETURN(
        server->tls_,
        TlsFileWatcher::Create(options.tls_paths(), [](absl::string_view line) {
          std::fprintf(stderr, "weir-queryd: %.*s\n",
                       static_cast<int>(line.size()), line.data());
        }));
  }

  store::StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  store_options.retention.raw = options.retention_raw;
  store_options.retention.minute = options.retention_1m;
  store_options.retention.hour = options.retention_1h;
  store_options.rollup_buffer_keys =
      static_cast<size_t>(options.rollup_buffer_keys);
  store_options.rollup_flush_interval = options.rollup_flush_interval;
  store_options.progress = [](absl::string_view line) {
    std::fprintf(stderr, "weir-queryd: %.*s\n", static_cast<int>(line.size()),
                 line.data());
  };
  absl::StatusOr<std::unique_ptr<store::Store>> store =
      store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  server->store_ = *std::move(store);

  server->stats_ = std::make_unique<StatsTracker>();
  LiveTableOptions live_options;
  live_options.connection_timeout = options.connection_timeout;
  server->live_ = std::make_unique<LiveTable>(live_options);
  server->watchers_ = std::make_unique<WatchHub>();
  metrics::MetricsSources sources{server->store_.get(), server->stats_.get(),
                                  server->live_.get(), nullptr};
  server->metrics_ =
      std::make_unique<metrics::QuerydMetrics>(sources, options.metrics_top_k);
  server->ingest_ = std::make_unique<IngestServiceImpl>(
      *server->store_, *server->live_, *server->watchers_, *server->stats_,
      server->metrics_.get());
  server->ingest_->set_authorizer(server->authorizer_.get());
  sources.ingest = server->ingest_.get();
  server->metrics_->set_sources(sources);
  query::QueryEngineOptions engine_options;
  engine_options.max_page_size = static_cast<int>(options.max_page_size);
  engine_options.max_query_window = options.max_query_window;
  engine_options.on_limit =
      [metrics = server->metrics_.get()](absl::string_view limit) {
        metrics->LimitHit(limit);
      };
  engine_options.is_connected =
      [ingest = server->ingest_.get()](const std::string& node) {
        return ingest->IsConnected(node);
      };
  server->engine_ =
      std::make_unique<query::QueryEngine>(*server->store_, engine_options);
  QueryServiceOptions query_options;
  query_options.authorizer = server->authorizer_.get();
  query_options.max_streams_per_peer = options.max_streams_per_peer;
  query_options.on_stream_limit = [metrics = server->metrics_.get()] {
    metrics->LimitHit("streams_per_peer");
  };
  server->query_ = std::make_unique<QueryServiceImpl>(
      query_options, *server->store_, *server->engine_, *server->live_,
      *server->watchers_, *server->stats_, *server->ingest_);

  // Health and reflection are queryd's own (health_service.h,
  // reflection_service.h), not gRPC's default health service and reflection
  // plugin: those would list grpc.health.v1.Health without its descriptor,
  // offer no reflection v1, and know no status per service.
  const std::vector<std::string> services = {
      weir::v1::IngestService::service_full_name(),
      weir::v1::QueryService::service_full_name(),
      grpc::health::v1::Health::service_full_name(),
      grpc::reflection::v1::ServerReflection::service_full_name(),
      grpc::reflection::v1alpha::ServerReflection::service_full_name(),
  };
  server->health_ = std::make_unique<HealthService>(services);
  server->reflection_v1_ = std::make_unique<ReflectionServiceV1>(services);
  server->reflection_v1alpha_ =
      std::make_unique<ReflectionServiceV1Alpha>(services);
  // grpc.health.v1 stays open: probes carry no token, and it tells only
  // SERVING or NOT_SERVING per service.
  server->reflection_v1_->set_authorizer(server->authorizer_.get());
  server->reflection_v1alpha_->set_authorizer(server->authorizer_.get());
  // Ingest is not served while the store cannot write; "" follows. The
  // monitor decides (a write's outcome only makes it look now), and resumes
  // the store once the cause is gone.
  StoreMonitor::Options monitor;
  monitor.on_change =
      [health = server->health_.get()](const store::WriteState& state) {
        health
            ->SetServing(weir::v1::IngestService::service_full_name(),
                         state.writable())
            .IgnoreError();  // a name of `services`
      };
  server->store_monitor_ =
      std::make_unique<StoreMonitor>(*server->store_, std::move(monitor));
  server->ingest_->set_on_store_writable(
      [store_monitor = server->store_monitor_.get()](bool) {
        store_monitor->Poke();
      });

  server->ingest_->set_client_certificates_required(!options.client_ca.empty());
  server->ingest_->set_shared_client_cert_name(options.shared_client_cert_name);

  // queryd owns the listening socket (grpc_listener.h), so peers outside
  // the allowlist are closed before gRPC sees them; gRPC runs the others
  // with these credentials.
  WEIR_ASSIGN_OR_RETURN(
      SourceAllowlist grpc_allowed,
      ListenerAllowlist("--grpc-allowed-ips", options.grpc_allowed_ips,
                        options.allowed_ips));
  WEIR_ASSIGN_OR_RETURN(
      server->grpc_listener_,
      GrpcListener::Listen("--grpc-address", options.grpc_address,
                           std::move(grpc_allowed), server->metrics_.get()));
  server->grpc_port_ = server->grpc_listener_->port();
  grpc::ServerBuilder builder;
  // TLS (reloading its files) or plaintext; the listener hands gRPC the
  // connections --allowed-ips lets in, and gRPC does the handshake.
  server->grpc_listener_->AttachTo(
      builder, server->tls_ != nullptr
                   ? ReloadingTlsServerCredentials(server->tls_,
                                                   !options.client_ca.empty())
                   : grpc::InsecureServerCredentials());
  // (The listener binds without SO_REUSEPORT; gRPC opens no port itself.)
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(server->ingest_.get());
  builder.RegisterService(server->query_.get());
  builder.RegisterService(server->health_.get());
  builder.RegisterService(server->reflection_v1_.get());
  builder.RegisterService(server->reflection_v1alpha_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  server->grpc_ = builder.BuildAndStart();
  if (server->grpc_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot start the gRPC server on --grpc-address ",
                     options.grpc_address));
  }
  server->grpc_listener_->Start();

  // The HTTP front calls QueryService through the in-process channel, so
  // its routes come from the service's annotations and its calls pass the
  // same validation as gRPC clients'.
  const google::protobuf::ServiceDescriptor* query_service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          weir::v1::QueryService::service_full_name());
  if (query_service == nullptr) {
    return absl::InternalError("weir.v1.QueryService is not linked in");
  }
  http::GatewayOptions gateway_options;
  gateway_options.services = {query_service};
  absl::StatusOr<std::unique_ptr<http::Gateway>> gateway =
      http::Gateway::Create(server->InProcessChannel(), gateway_options);
  if (!gateway.ok()) return gateway.status();
  server->gateway_ = *std::move(gateway);
  http::HttpServerOptions http_options;
  http_options.address = options.http_address;
  http_options.max_body_bytes = options.http_max_body_bytes;
  http_options.read_timeout = options.http_read_timeout;
  // A quarter of the descriptors (and 64 more) stay for the store: RocksDB
  // keeps up to a quarter open for its tables (rocks_db.cc) and needs a
  // few more for its WAL, flushes and compactions, and collectors' gRPC
  // connections come out of them too.
  const int descriptors = DescriptorLimit();
  http_options.max_open_descriptors =
      std::max(16, descriptors - descriptors / 4 - 64);
  http_options.authorizer = server->authorizer_.get();
  http_options.tls_files = server->tls_;
  http_options.max_header_bytes = options.http_max_header_bytes;
  http_options.max_connections = options.http_max_connections;
  http_options.max_connections_per_peer = options.http_max_connections_per_peer;
  http_options.max_streams_per_peer = options.max_streams_per_peer;
  http_options.websocket_max_message_bytes =
      options.websocket_max_message_bytes;
  WEIR_ASSIGN_OR_RETURN(
      http_options.allowed_ips,
      ListenerAllowlist("--http-allowed-ips", options.http_allowed_ips,
                        options.allowed_ips));
  absl::StatusOr<http::CorsPolicy> cors =
      http::CorsPolicy::Parse(options.http_cors_origins);
  if (!cors.ok()) return cors.status();
  http_options.cors = *std::move(cors);
  absl::StatusOr<std::unique_ptr<http::HttpServer>> http_server =
      http::HttpServer::Start(http_options, server->gateway_.get(),
                              server->metrics_.get());
  if (!http_server.ok()) return http_server.status();
  server->http_ = *std::move(http_server);

  store::RetentionTimer::Options retention;
  retention.on_run = [](const absl::Status& status) {
    if (!status.ok()) {
      std::fprintf(stderr, "weir-queryd: retention: %s\n",
                   status.ToString().c_str());
    }
  };
  server->retention_ =
      std::make_unique<store::RetentionTimer>(server->store_.get(), retention);
  return server;
}

void Server::ReloadTokens() {
  if (authorizer_ != nullptr) authorizer_->Reload();
}

std::shared_ptr<grpc::Channel> Server::InProcessChannel() {
  return grpc_->InProcessChannel(grpc::ChannelArguments());
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  // Health first, while calls are still accepted: checks and Watch streams
  // see NOT_SERVING (and the streams end) before the server goes.
  if (health_ != nullptr) health_->Shutdown();
  retention_.reset();
  // Then HTTP, before gRPC: its calls go through grpc_, and its
  // connections must be gone before the channel they use.
  if (http_ != nullptr) http_->Stop();
  // No new gRPC connections from here on.
  if (grpc_listener_ != nullptr) grpc_listener_->Stop();
  if (grpc_ == nullptr) return;  // BuildAndStart failed before serving
  // Streams (ingest, watchers) never end by themselves: the deadline
  // cancels whatever is still open after the grace period.
  grpc_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  grpc_->Wait();
}

Server::~Server() { Shutdown(); }

}  // namespace weir::queryd
