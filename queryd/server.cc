#include "queryd/server.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace weir::queryd {

absl::StatusOr<std::unique_ptr<Server>> Server::BuildAndStart(
    const QuerydOptions& options) {
  std::unique_ptr<Server> server(new Server());

  store::StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  store_options.retention.raw = options.retention_raw;
  store_options.retention.minute = options.retention_1m;
  store_options.retention.hour = options.retention_1h;
  absl::StatusOr<std::unique_ptr<store::Store>> store =
      store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  server->store_ = *std::move(store);

  server->stats_ = std::make_unique<StatsTracker>();
  LiveTableOptions live_options;
  live_options.connection_timeout = options.connection_timeout;
  server->live_ = std::make_unique<LiveTable>(live_options);
  server->watchers_ = std::make_unique<WatchHub>();
  server->ingest_ = std::make_unique<IngestServiceImpl>(
      *server->store_, *server->live_, *server->watchers_, *server->stats_);
  query::QueryEngineOptions engine_options;
  engine_options.max_page_size = static_cast<int>(options.max_page_size);
  engine_options.is_connected =
      [ingest = server->ingest_.get()](const std::string& node) {
        return ingest->IsConnected(node);
      };
  server->engine_ =
      std::make_unique<query::QueryEngine>(*server->store_, engine_options);
  server->query_ = std::make_unique<QueryServiceImpl>(
      QueryServiceOptions(), *server->store_, *server->engine_, *server->live_,
      *server->watchers_, *server->stats_, *server->ingest_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.grpc_address,
                           grpc::InsecureServerCredentials(),
                           &server->grpc_port_);
  builder.RegisterService(server->ingest_.get());
  builder.RegisterService(server->query_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  server->grpc_ = builder.BuildAndStart();
  if (server->grpc_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --grpc-address ", options.grpc_address,
                     " (in use, or not a local address?)"));
  }

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

std::shared_ptr<grpc::Channel> Server::InProcessChannel() {
  return grpc_->InProcessChannel(grpc::ChannelArguments());
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  retention_.reset();
  // Streams (ingest, watchers) never end by themselves: the deadline
  // cancels whatever is still open after the grace period.
  grpc_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  grpc_->Wait();
}

Server::~Server() { Shutdown(); }

}  // namespace weir::queryd
