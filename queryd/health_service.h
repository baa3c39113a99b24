// grpc.health.v1.Health (grpc/doc/health-checking.md), served by queryd
// itself with a status for the server as a whole ("") and one for each of
// its services, so a client can ask whether ingest works, not only whether
// the process answers.
#ifndef WEIR_QUERYD_HEALTH_SERVICE_H_
#define WEIR_QUERYD_HEALTH_SERVICE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpc_contracts/health.grpc.pb.h"

namespace weir::queryd {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // `services`: the fully qualified names of the server's services, each
  // SERVING at first.
  explicit HealthService(const std::vector<std::string>& services);
  // After the gRPC server that serves it has ended every call (Wait).
  ~HealthService() override = default;

  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // Sets one service's status; Watch streams of it (and of "", which is
  // SERVING while every service is) are told. NOT_FOUND for a service the
  // server does not have. No effect after Shutdown.
  absl::Status SetServing(absl::string_view service, bool serving);

  // Every status is NOT_SERVING from now on, for good: Watch streams send
  // it and end (OK). For the start of the server's shutdown, while it
  // still accepts calls.
  void Shutdown();

  // The status of `service` ("" for the server), or NOT_FOUND.
  absl::StatusOr<ServingStatus> StatusOf(absl::string_view service) const;

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;

  // The current status at once, then each change, until the client cancels
  // or the server shuts down. A service the server does not have is
  // SERVICE_UNKNOWN (the stream stays open, as the protocol says).
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;

  // What a Watch of `service` sends now.
  ServingStatus WatchedStatus(const std::string& service) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells every watcher its status (`last`: and to end after it).
  void NotifyAll(bool last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Watcher* watcher);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, bool> serving_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Open Watch streams. Each removes itself in OnDone, under mu_, so a
  // watcher found here is alive while mu_ is held.
  absl::flat_hash_set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_HEALTH_SERVICE_H_
