// The gRPC listening socket, owned by queryd rather than by gRPC, so a peer
// outside the allowlist is closed as soon as it is accepted, before gRPC
// reads a byte of it. Allowed connections are handed to the gRPC server
// through its external connection acceptor, which runs them with the
// credentials it was given, as it would its own listening port's.
//
// Binds the way gRPC would: every address the host resolves to, with
// SO_REUSEADDR and without SO_REUSEPORT (a second queryd on the same port
// must fail, not share the connections); port 0 picks one, the same for
// every address.
#ifndef WEIR_QUERYD_GRPC_LISTENER_H_
#define WEIR_QUERYD_GRPC_LISTENER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/source_allowlist.h"
#include "grpcpp/grpcpp.h"
#include "queryd/metrics/queryd_metrics.h"

namespace weir::queryd {

class GrpcListener {
 public:
  // Listens on `address` (host:port, [v6]:port); `metrics` may be null and
  // must outlive the listener. Errors are UNAVAILABLE and name `flag`.
  static absl::StatusOr<std::unique_ptr<GrpcListener>> Listen(
      absl::string_view flag, const std::string& address,
      SourceAllowlist allowed, metrics::QuerydMetrics* metrics);
  ~GrpcListener();

  GrpcListener(const GrpcListener&) = delete;
  GrpcListener& operator=(const GrpcListener&) = delete;

  int port() const { return port_; }

  // Registers the listener with `builder`, before BuildAndStart(); its
  // connections get `credentials`.
  void AttachTo(grpc::ServerBuilder& builder,
                std::shared_ptr<grpc::ServerCredentials> credentials);

  // Starts accepting, once the server has started.
  void Start();

  // Stops accepting and closes the listening sockets; connections already
  // handed to gRPC are the server's. Idempotent.
  void Stop();

 private:
  GrpcListener() = default;
  void AcceptLoop();
  // False when out of descriptors or memory (try again later).
  bool AcceptOne(int listen_fd);

  std::vector<int> listen_fds_;
  int wake_fd_ = -1;  // an eventfd: Stop() wakes the loop
  int port_ = 0;
  SourceAllowlist allowed_;
  metrics::QuerydMetrics* metrics_ = nullptr;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace weir::queryd

#endif  // WEIR_QUERYD_GRPC_LISTENER_H_
