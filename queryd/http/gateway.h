// The REST gateway's gRPC half: resolves an HTTP request to a route of the
// RouteTable, transcodes it into the method's request message and calls the
// method through a generic stub on the server's in-process channel, so
// every call passes exactly the interceptors and validation a gRPC client's
// call does. No method is known by name here.
#ifndef WEIR_QUERYD_HTTP_GATEWAY_H_
#define WEIR_QUERYD_HTTP_GATEWAY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "queryd/http/route_table.h"

namespace weir::queryd::http {

using Metadata = std::vector<std::pair<std::string, std::string>>;

// An HTTP answer that is complete in one piece.
struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// An error reply: google.rpc.Status JSON with grpc-gateway's HTTP status.
HttpReply ErrorReply(const grpc::Status& status);
HttpReply ErrorReply(absl::StatusCode code, absl::string_view message);

// Receives a server stream's messages. Methods run on gRPC threads and
// must not block: post the work elsewhere.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  // One response as JSON (the bare message). The call reads the next one
  // only after StreamCall::Next() (or ends after Cancel()).
  virtual void OnMessage(std::string json) = 0;
  // The end of the call, after every OnMessage. Runs exactly once.
  virtual void OnFinish(grpc::Status status) = 0;
};

// A running server-streaming call. Thread-safe.
class StreamCall {
 public:
  virtual ~StreamCall() = default;
  // The previous message is delivered; read the next.
  virtual void Next() = 0;
  // The HTTP client went away (or the server stops): cancel the call.
  // OnFinish still follows.
  virtual void Cancel() = 0;
};

struct GatewayOptions {
  // gRPC services whose google.api.http annotations are served.
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  // Creates request and response messages; the generated factory unless a
  // test serves a dynamic descriptor.
  google::protobuf::MessageFactory* factory =
      google::protobuf::MessageFactory::generated_factory();
  // Deadline of unary calls.
  absl::Duration unary_deadline = absl::Seconds(60);
};

class Gateway {
 public:
  // INVALID_ARGUMENT when the annotations do not make a valid route table.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(
      std::shared_ptr<grpc::ChannelInterface> channel, GatewayOptions options);
  ~Gateway();

  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // An HTTP request resolved and transcoded, ready to call.
  struct Prepared {
    const Route* route = nullptr;  // null when `error` is set
    // The matched template ("/v1/flows"), "" when no path matched.
    std::string path_template;
    std::string request;  // the serialized request message
    // 404 (no path), 405 (path, not method; with Allow), 400 (transcoding):
    // answer this instead of calling.
    std::optional<HttpReply> error;
  };
  // `target` is the request target ("/v1/flows?page_size=5").
  Prepared Prepare(absl::string_view method, absl::string_view target,
                   absl::string_view body) const;

  // Calls a unary route. `done` runs once, on a gRPC thread (or at once
  // when the gateway is shutting down), and must not block.
  void CallUnary(const Prepared& prepared, const Metadata& metadata,
                 std::function<void(HttpReply)> done);

  // Starts a server-streaming route. The observer is held until OnFinish.
  std::shared_ptr<StreamCall> CallStream(
      const Prepared& prepared, const Metadata& metadata,
      std::shared_ptr<StreamObserver> observer);

  // Cancels every call in flight and waits until each has finished (its
  // callbacks have run); those calls end with UNAVAILABLE "queryd is
  // stopping", as do calls made afterwards.
  void Shutdown();

  const RouteTable& routes() const { return routes_; }

 private:
  class UnaryCallState;
  class StreamCallImpl;
  class Cancellable {
   public:
    virtual ~Cancellable() = default;
    virtual void Cancel() = 0;
  };

  Gateway(std::shared_ptr<grpc::ChannelInterface> channel,
          GatewayOptions options, RouteTable routes);

  // Registers a call; its id, or 0 when shutting down.
  uint64_t Begin(const std::weak_ptr<Cancellable>& call);
  // The call has finished and will not touch the gateway again.
  void End(uint64_t id);
  bool shutting_down();
  void SetUpContext(const Route& route, const Metadata& metadata,
                    grpc::ClientContext* context) const;

  const GatewayOptions options_;
  const RouteTable routes_;
  grpc::GenericStub stub_;

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Cancellable>> calls_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace weir::queryd::http

#endif  // WEIR_QUERYD_HTTP_GATEWAY_H_
